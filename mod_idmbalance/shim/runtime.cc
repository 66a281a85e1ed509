#include "runtime.h"

#include <netdb.h>

#include <algorithm>
#include <cstring>

#include "ap_mpm.h"
#include "apr_general.h"
#include "http_log.h"
#include "http_protocol.h"
#include "idmb/server_config.h"
#include "shim_module.h"
#include "shim_log.h"

APLOG_USE_MODULE(idmbalance);

namespace idmb::shim {
namespace {

// Strips the brackets of an IPv6 literal for getaddrinfo.
std::string bare_host(const std::string& host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    return host.substr(1, host.size() - 2);
  }
  return host;
}

std::string resolve(MemberRuntime& member) {
  const auto& cfg = *member.config;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string port = std::to_string(cfg.port);
  int rc = ::getaddrinfo(bare_host(cfg.host).c_str(), port.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return "cannot resolve " + cfg.host + ": " + ::gai_strerror(rc);
  }
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    auto& address = member.addresses.emplace_back();
    std::memcpy(&address.sockaddr, a->ai_addr, a->ai_addrlen);
    address.length = a->ai_addrlen;
  }
  ::freeaddrinfo(found);
  return {};
}

}  // namespace

std::vector<const ServerConfig*> distinct_server_configs(server_rec* main_server) {
  std::vector<const ServerConfig*> configs;
  for (server_rec* s = main_server; s != nullptr; s = s->next) {
    const ServerConfig* conf = server_config(s);
    if (std::find(configs.begin(), configs.end(), conf) == configs.end()) {
      configs.push_back(conf);
    }
  }
  return configs;
}

std::string check_config(server_rec* main_server) {
  auto status = config::check_servers(distinct_server_configs(main_server));
  return status ? std::string() : status.error();
}

namespace {

// Every scope's balancers with their members' addresses and pools, and their mounts.
std::string add_balancers(Runtime& runtime, const std::vector<const ServerConfig*>& configs) {
  int threads = 1;
  ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
  const std::size_t default_pool = static_cast<std::size_t>(threads > 0 ? threads : 1);
  for (const ServerConfig* conf : configs) {
    for (const auto& balancer : conf->balancers()) {
      auto& b = runtime.balancers.emplace_back();
      b.config = &balancer;
      b.mounts = config::mount_patterns(configs, balancer.name);
      for (const auto& member_config : balancer.members) {
        auto& m = b.members.emplace_back();
        m.config = &member_config;
        m.address = member_config.host + ":" + std::to_string(member_config.port);
        m.secret = member_config.secret.empty() ? balancer.secret : member_config.secret;
        m.pool.configure(balancer.pool_max ? balancer.pool_max : default_pool, balancer.pool_idle_timeout_ms);
        if (auto err = resolve(m); !err.empty()) {
          return "<IdmBalancer " + balancer.name + "> member " + member_config.name + ": " + err;
        }
      }
      runtime.by_name[balancer.name] = &b;
    }
  }
  return {};
}

// The manager's nonce: 16 random bytes in hex.
std::string make_nonce(Runtime& runtime) {
  unsigned char random_bytes[16];
  if (apr_generate_random_bytes(random_bytes, sizeof random_bytes) != APR_SUCCESS) {
    return "cannot generate the manager nonce: no random source";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char byte : random_bytes) {
    runtime.nonce += kHex[byte >> 4];
    runtime.nonce += kHex[byte & 15];
  }
  return {};
}

}  // namespace

std::string build_runtime(Runtime& runtime, server_rec* main_server) {
  if (auto err = add_balancers(runtime, distinct_server_configs(main_server)); !err.empty()) {
    return err;
  }
  runtime.drain_quiet_ms = server_config(main_server)->drain_quiet_ms();
  if (auto err = make_nonce(runtime); !err.empty()) {
    return err;
  }
  if (auto err = attach_shared_table(runtime, main_server); !err.empty()) {
    return err;
  }
  for (auto& b : runtime.balancers) {
    std::vector<table::MemberSlot*> slots;
    for (auto& m : b.members) {
      slots.push_back(m.slot);
    }
    b.balancer = std::make_unique<balance::Balancer>(*b.config, std::move(slots), runtime.random, runtime.clock,
                                                     b.config->health);
    b.balancer->use_shared_settings(b.settings);
  }
  return {};
}

std::unique_ptr<BackendConnection> connect_member(const MemberRuntime& member, std::uint32_t timeout_ms,
                                                  std::string& error, bool& local) {
  for (const auto& address : member.addresses) {
    if (auto connection = BackendConnection::open(address.sockaddr, address.length, timeout_ms, error, local)) {
      return connection;
    }
    if (local) {
      break;  // this process is out of resources: another address will not help
    }
  }
  return nullptr;
}

void report_transition(Runtime& runtime, server_rec* s, const BalancerRuntime& balancer, const MemberRuntime& member,
                       const health::Transition& transition) {
  if (!transition.changed) {
    return;
  }
  std::string text = health::describe(transition);
  const int level = transition.to == table::Health::Error     ? APLOG_ERR
                    : transition.to == table::Health::Ejected ? APLOG_WARNING
                                                              : APLOG_NOTICE;
  IDMB_LOG_S(level, s, "member %s (%s) of balancer %s: %s", member.config->name.c_str(), member.address.c_str(),
             balancer.config->name.c_str(), text.c_str());
  if (runtime.table) {
    runtime.table->add_event(member.table_index, runtime.clock.now_ms(), text);
  }
}

}  // namespace idmb::shim

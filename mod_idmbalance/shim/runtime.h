// What a child process works with: the configured balancers with resolved member addresses and
// per-member connection pools. Built once in post_config; every child inherits a copy.
#pragma once

#include <atomic>
#include <deque>
#include <string>
#include <unordered_map>

#include "backend_connection.h"
#include "idmb/config.h"

#include "httpd.h"

namespace idmb::shim {

struct MemberRuntime {
  const config::MemberConfig* config = nullptr;
  std::string address;  // "host:port", for log lines
  std::string secret;   // member secret, else the balancer's
  sockaddr_storage sockaddr{};
  socklen_t sockaddr_len = 0;
  ConnectionPool pool;
};

struct BalancerRuntime {
  const config::BalancerConfig* config = nullptr;
  std::deque<MemberRuntime> members;  // same order as config->members
  std::atomic<std::uint64_t> ticket{0};
};

struct Runtime {
  std::deque<BalancerRuntime> balancers;
  std::unordered_map<std::string, BalancerRuntime*> by_name;
};

// Builds the runtime from every server's configuration. Returns an error message or empty.
std::string build_runtime(Runtime& runtime, server_rec* main_server, apr_pool_t* pool);

// Checks what directives alone cannot: every mount names a defined balancer, names are unique.
std::string check_config(server_rec* main_server);

// Forwards the request to a member of `balancer`; returns the handler's status.
int forward_request(request_rec* r, BalancerRuntime& balancer);

}  // namespace idmb::shim

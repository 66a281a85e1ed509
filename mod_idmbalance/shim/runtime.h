// What a child process works with: the configured balancers with resolved member addresses and
// per-member connection pools. Built once in post_config; every child inherits a copy.
#pragma once

#include <atomic>
#include <optional>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend_connection.h"
#include "idmb/balancer.h"
#include "idmb/balancer_settings.h"
#include "idmb/config.h"
#include "idmb/worker_table.h"
#include "idmb/worker_table_layout.h"
#include "system_sources.h"

#include "httpd.h"

namespace idmb::config {
class ServerConfig;
}

namespace idmb::shim {

struct MemberRuntime {
  const config::MemberConfig* config = nullptr;
  std::string address;  // "host:port", for log lines
  std::string secret;   // member secret, else the balancer's
  struct Address {
    sockaddr_storage sockaddr{};
    socklen_t length = 0;
  };
  std::vector<Address> addresses;  // every address the host name resolved to, in resolver order
  ConnectionPool pool;
  table::MemberSlot* slot = nullptr;  // this member's record in the shared table
  std::size_t table_index = 0;        // its index there (events name members by index)
};

struct BalancerRuntime {
  const config::BalancerConfig* config = nullptr;
  std::deque<MemberRuntime> members;            // same order as config->members
  std::vector<std::string> mounts;              // patterns that reach it, in any server (status page)
  std::unique_ptr<balance::Balancer> balancer;  // member choice over the shared slots
  table::BalancerSlot* settings = nullptr;      // method and sticky force, as changed at run time
};

struct Runtime {
  std::deque<BalancerRuntime> balancers;
  std::unordered_map<std::string, BalancerRuntime*> by_name;
  SystemClock clock;
  ThreadRandom random;
  std::string nonce;  // the manager's per-server anti-CSRF token
  std::uint64_t table_generation = 0;
  std::optional<table::WorkerTable> table;  // this generation's shared table
  std::uint32_t drain_quiet_ms = 30000;     // IdmDrainQuietTime
};

// Builds the runtime from every server's configuration, including the shared worker table.
// Returns an error message or empty.
std::string build_runtime(Runtime& runtime, server_rec* main_server);

// Creates this generation's shared worker table (anonymous shared memory that every child
// inherits), fills in the members' slots and carries the previous generation's state over.
std::string attach_shared_table(Runtime& runtime, server_rec* main_server);

// Each server's configuration once: httpd hands a VirtualHost without Idm* directives the main
// server's configuration itself, not a merged copy, so several servers may share one.
std::vector<const config::ServerConfig*> distinct_server_configs(server_rec* main_server);

// Checks what directives alone cannot (config::check_servers). Returns an error or empty.
std::string check_config(server_rec* main_server);

// A new connection to the member: each of its addresses in turn until one connects (a name
// like "localhost" may resolve to ::1 first while Tomcat listens on 127.0.0.1 only).
std::unique_ptr<BackendConnection> connect_member(const MemberRuntime& member, std::uint32_t timeout_ms,
                                                  std::string& error, bool& local);

// Logs a member's health change once and records it in the shared event ring.
void report_transition(Runtime& runtime, server_rec* s, const BalancerRuntime& balancer, const MemberRuntime& member,
                       const health::Transition& transition);

// Starts this child's prober thread: one child at a time (a lease in the shared table) probes
// every member with CPING, so a member in error comes back by probing, never by a user request.
void start_prober(Runtime& runtime, server_rec* s, apr_pool_t* child_pool);

// Crash reaping (reaping.cc). In a child, at start: claims its process record and hands its
// holds to the balancers. In the parent, when a child exited: releases what it held. In the
// prober: releases what children that are gone held (when the parent's hook did not run).
void claim_process_record(Runtime& runtime, server_rec* s);
void reap_child(Runtime& runtime, server_rec* s, pid_t pid);
void sweep_dead_children(Runtime& runtime, server_rec* s);

// Forwards the request to a member of `balancer`; returns the handler's status.
int forward_request(request_rec* r, Runtime& runtime, BalancerRuntime& balancer);

}  // namespace idmb::shim

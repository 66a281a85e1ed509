// The directive table (directives.h): every directive of the module, once.
#include "idmb/directives.h"

#include <array>
#include <string>

#include "../util/ascii.h"
#include "../util/text.h"
#include "balancer_directives.h"
#include "idmb/location_mount.h"
#include "idmb/server_config.h"

namespace idmb::config {
namespace {

namespace d = directive;

// The duration and number directives differ only in their field and bounds.
#define IDMB_DURATION(field, allow_zero)                           \
  [](BalancerConfig& b, std::string_view name, const Args& args) { \
    return d::duration(b.field, name, args, allow_zero);           \
  }
#define IDMB_NUMBER(field, min, max) \
  [](BalancerConfig& b, std::string_view name, const Args& args) { return d::number(b.field, name, args, min, max); }

Status drain_quiet_time(ServerConfig& server, std::string_view name, const Args& args) {
  auto ms = parse_duration_ms(args[0]);
  if (!ms) return fail(std::string(name) + ": " + ms.error());
  server.set_drain_quiet_ms(*ms);
  return Ok{};
}

constexpr Directive in_section(std::string_view name, std::string_view help, BalancerApply apply) {
  return {name, Where::Balancer, Arity::Raw, help, apply, nullptr};
}

// The order is httpd's listing order; the fuzz target picks directives by their index here.
constexpr auto kTable = std::to_array<Directive>({
    {"<IdmBalancer", Where::Section, Arity::Raw,
     "<IdmBalancer NAME> ... </IdmBalancer>: a named group of Tomcat members"},
    in_section("IdmMember",
               "IdmMember NAME ajp://HOST:PORT [route=R] [factor=N] [status=...] [domain=D] "
               "[redirect=ROUTE] [secret=S] [max=N] [distance=N]",
               d::member),
    in_section("IdmSticky", "IdmSticky COOKIE [PATH_PARAM] [force] | off", d::sticky),
    in_section("IdmMethod", "IdmMethod requests|traffic|busyness|p2c", d::method),
    in_section("IdmSecret", "IdmSecret S: AJP secret for members without secret=", d::secret),
    in_section("IdmConnectTimeout", "IdmConnectTimeout DURATION: TCP connect timeout",
               IDMB_DURATION(connect_timeout_ms, false)),
    in_section("IdmPingTimeout", "IdmPingTimeout DURATION: CPONG wait", IDMB_DURATION(ping_timeout_ms, false)),
    in_section("IdmReplyTimeout", "IdmReplyTimeout DURATION: longest gap between backend packets",
               IDMB_DURATION(reply_timeout_ms, false)),
    // 0: always CPING before reusing a pooled connection.
    in_section("IdmPingAfterIdle", "IdmPingAfterIdle DURATION: CPING a pooled connection idle this long",
               IDMB_DURATION(ping_after_idle_ms, true)),
    in_section("IdmPoolIdleTimeout", "IdmPoolIdleTimeout DURATION: close pooled connections idle this long",
               IDMB_DURATION(pool_idle_timeout_ms, false)),
    in_section("IdmPoolSize", "IdmPoolSize N: idle connections kept per member and child",
               IDMB_NUMBER(pool_max, 1, kMaxPoolSize)),
    in_section("IdmHealthCheck",
               "IdmHealthCheck [interval=D] [healthy_interval=D|off] [rise=N] [fall=N] [uri=/PATH]: CPING "
               "probes, and a GET of PATH that must answer 2xx or 3xx",
               d::health_check),
    // 0: no waiting; a request that finds every member full gets 503 at once.
    in_section("IdmQueueTimeout",
               "IdmQueueTimeout DURATION: how long a request waits for a member below its max= limit",
               IDMB_DURATION(queue_timeout_ms, true)),
    in_section("IdmRequestBodyBuffer",
               "IdmRequestBodyBuffer SIZE: request body read before a member is chosen (64k, 1m); 0 = one packet",
               d::request_body_buffer),
    // 0 turns it off: a recovered member takes its full share at once.
    in_section("IdmSlowStart", "IdmSlowStart DURATION: ramp-up after recovery or re-activation; 0 = off",
               IDMB_DURATION(health.slow_start_ms, true)),
    in_section("IdmPanicThreshold",
               "IdmPanicThreshold PERCENT: below this share of usable members, use them all; 0 = never",
               IDMB_NUMBER(health.panic_percent, 0, 100)),
    in_section("IdmPacketSize", "IdmPacketSize N: AJP packet size, 8192..65536, as Tomcat's packetSize",
               IDMB_NUMBER(packet_size, kMinPacketSize, kMaxPacketSize)),
    {"IdmMount", Where::Server, Arity::Two,
     "IdmMount PATTERN BALANCER: forward matching URLs; inside <Location> or <LocationMatch>: IdmMount BALANCER",
     nullptr, [](ServerConfig& s, std::string_view, const Args& args) { return s.mount(args[0], args[1]); },
     apply_location_mount},
    {"IdmUnmount", Where::Server, Arity::Two,
     "IdmUnmount PATTERN BALANCER|*: exclude URLs from a mount; inside <Location> or <LocationMatch>: IdmUnmount "
     "BALANCER|*",
     nullptr, [](ServerConfig& s, std::string_view, const Args& args) { return s.unmount(args[0], args[1]); },
     apply_location_unmount},
    {"IdmDrainQuietTime", Where::MainServer, Arity::One,
     "IdmDrainQuietTime DURATION: a disabled member with nothing in flight and no live "
     "session's request for this long is reported drained",
     nullptr, drain_quiet_time},
    // New directives go last: the fuzz target picks directives by their index here.
    in_section("IdmFailOnStatus",
               "IdmFailOnStatus CODE [CODE ...]: a Tomcat answer with status CODE fails over to another member "
               "and counts against this one; -CODE fails over without blaming it",
               d::fail_on_status),
    {"IdmEnvAttribute", Where::Server, Arity::Raw,
     "IdmEnvAttribute NAME [DEFAULT]: send environment variable NAME to Tomcat as request attribute NAME "
     "(DEFAULT when unset; without DEFAULT only when set)",
     nullptr, [](ServerConfig& s, std::string_view name, const Args& args) { return s.env_attribute(name, args); }},
    {"IdmEnvIndicator", Where::Server, Arity::Two,
     "IdmEnvIndicator FIELD VARIABLE: when VARIABLE is set, its value is forwarded as FIELD (https, "
     "remote_addr, remote_port, ...)",
     nullptr, [](ServerConfig& s, std::string_view name, const Args& args) { return s.env_indicator(name, args); }},
    {"IdmMountCopy", Where::Server, Arity::One,
     "IdmMountCopy On|Off: whether a VirtualHost inherits the main server's IdmMount/IdmUnmount; in the main "
     "server, the default for every VirtualHost (All = On)",
     nullptr, [](ServerConfig& s, std::string_view name, const Args& args) { return s.mount_copy(name, args); }},
    {"IdmStripSession", Where::Server, Arity::Raw,
     "IdmStripSession On|Off [NAME]: remove ;NAME=... (default jsessionid) from URLs that httpd serves itself", nullptr,
     [](ServerConfig& s, std::string_view name, const Args& args) { return s.strip_session(name, args); }},
    in_section("IdmOutlierDetection",
               "IdmOutlierDetection on|off [interval=D] [min_requests=N] [error_factor=F] [error_min=PCT] "
               "[latency_factor=F] [latency_min=D] [ejection_time=D] [max_ejection_time=D] [max_ejected=PCT]: "
               "take a member whose error rate or p99 stands far above its peers' out for a while",
               d::outlier_detection),
    in_section("IdmPingBeforePost",
               "IdmPingBeforePost on|off: send a request that cannot be replayed (POST, PATCH, ...) behind a "
               "CPING, so one that a stopping Tomcat closed unread can go to another member",
               [](BalancerConfig& b, std::string_view name, const Args& args) {
                 return d::on_off(b.ping_before_post, name, args);
               }),
});

#undef IDMB_DURATION
#undef IDMB_NUMBER

// What the header promises of every entry's strings, checked by the compiler. (Which apply
// function an entry has is checked by a unit test: GCC's UBSan build does not take a
// function-pointer comparison as a constant expression.)
consteval bool well_formed(const Directive& e) {
  const bool c_strings = e.name.data()[e.name.size()] == '\0' && e.help.data()[e.help.size()] == '\0';
  return c_strings && e.help.starts_with(e.name);
}
consteval bool all_well_formed() {
  for (const Directive& e : kTable) {
    if (!well_formed(e)) return false;
  }
  return true;
}
static_assert(kTable.size() == kDirectiveCount);
static_assert(all_well_formed());

}  // namespace

std::span<const Directive, kDirectiveCount> directives() { return kTable; }

const Directive* find_directive(std::string_view name) {
  for (const Directive& e : kTable) {
    if (ascii::iequals(e.name, name)) return &e;
  }
  return nullptr;
}

Status apply_balancer_directive(BalancerConfig& balancer, std::string_view name, const Args& args) {
  const Directive* found = find_directive(name);
  if (found == nullptr || found->where != Where::Balancer) {
    return fail("unknown balancer directive " + text::quoted(name));
  }
  return found->apply_to_balancer(balancer, found->name, args);
}

}  // namespace idmb::config

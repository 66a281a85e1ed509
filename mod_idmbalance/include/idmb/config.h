// The configuration model: balancers and members as the operator wrote them. Independent of
// httpd's directive table, so the mod_jk importer can build the same model.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "idmb/ajp_codec.h"
#include "idmb/expected.h"
#include "idmb/health.h"
#include "idmb/outlier_detection.h"

namespace idmb::config {

enum class Activation { Active, Disabled, Stopped, Standby };
enum class Method { Requests, Traffic, Busyness, P2C };

// Every value, in declaration order (to_string of each is its config and manager spelling).
inline constexpr std::array<Activation, 4> kActivations = {Activation::Active, Activation::Disabled,
                                                           Activation::Stopped, Activation::Standby};
inline constexpr std::array<Method, 4> kMethods = {Method::Requests, Method::Traffic, Method::Busyness, Method::P2C};

std::string_view to_string(Activation a);
std::string_view to_string(Method m);

// A member's factor (factor=N, the manager's factor field): 1..kMaxFactor (mod_jk configs
// use lbfactor values above 100).
inline constexpr std::uint32_t kMaxFactor = 100000;
// A member's distance (distance=N): 0..kMaxDistance, lower is preferred (mod_jk's distance).
inline constexpr std::uint32_t kMaxDistance = 100;
// IdmPacketSize: AJP's bounds (Tomcat's default packetSize .. what the 16-bit length allows).
inline constexpr std::uint32_t kMinPacketSize = ajp::kMinPacketSize;
inline constexpr std::uint32_t kMaxPacketSize = ajp::kMaxPacketSize;
// IdmPoolSize: 1..kMaxPoolSize.
inline constexpr std::uint32_t kMaxPoolSize = 4096;

struct MemberConfig {
  std::string name;
  std::string host;  // from ajp://HOST:PORT; IPv6 as [::1]
  std::uint16_t port = 0;
  std::string route;         // defaults to name (Tomcat's jvmRoute)
  std::uint32_t factor = 1;  // 1..kMaxFactor
  // distance=N: of the members that can take a new request, only those with the lowest
  // distance are offered to the method (sticky sessions are not affected).
  std::uint32_t distance = 0;
  Activation activation = Activation::Active;
  std::string domain;
  std::string redirect;
  std::string secret;          // empty: the balancer's IdmSecret, if any
  std::uint32_t max_busy = 0;  // max=N: requests in flight at once, all children together; 0 = no limit
};

struct StickyConfig {
  bool enabled = true;
  std::string cookie = "JSESSIONID";
  std::string path_param = "jsessionid";
  bool force = false;
};

struct BalancerConfig {
  std::string name;
  std::vector<MemberConfig> members;
  StickyConfig sticky;
  Method method = Method::Requests;
  std::string secret;                        // IdmSecret: default for members without secret=
  std::uint32_t connect_timeout_ms = 5000;   // IdmConnectTimeout
  std::uint32_t ping_timeout_ms = 2000;      // IdmPingTimeout: CPING before reusing an idle connection
  std::uint32_t reply_timeout_ms = 60000;    // IdmReplyTimeout: gap between backend packets
  std::uint32_t ping_after_idle_ms = 10000;  // IdmPingAfterIdle: idle time after which reuse needs a CPING
  // IdmPingBeforePost: a request that may not be replayed once sent (POST, PATCH, ...) goes out
  // behind a CPING in the same write. A stopping Tomcat closes its keep-alive connections without
  // reading what arrives; a close before the CPONG shows the request was not read, so it may move.
  bool ping_before_post = true;
  std::uint32_t pool_idle_timeout_ms = 60000;  // IdmPoolIdleTimeout: idle connections are closed after this
  std::uint32_t pool_max = 0;                  // IdmPoolSize: 0 = ThreadsPerChild, else 1..kMaxPoolSize
  std::uint32_t packet_size = kMinPacketSize;  // IdmPacketSize: must match Tomcat's packetSize
  std::uint32_t queue_timeout_ms = 1000;       // IdmQueueTimeout: wait for a member below its max=
  // IdmRequestBodyBuffer: request body bytes read from the client before a member is chosen,
  // so a slow upload of up to this size holds no Tomcat thread. 0: the first packet only.
  std::uint32_t request_body_buffer = 0;
  health::Policy health;    // IdmHealthCheck, IdmSlowStart, IdmPanicThreshold
  outlier::Policy outlier;  // IdmOutlierDetection (off by default)
  // IdmFailOnStatus: Tomcat answers with these statuses fail over (mod_jk's fail_on_status);
  // CODE also counts against the member, -CODE does not.
  std::vector<int> fail_on_status;
};

// Balancer and member names: 1..63 bytes of [A-Za-z0-9_.-].
bool is_valid_name(std::string_view name);
// Session routes (Tomcat's jvmRoute): as names; a route follows the first '.' of a session id.
bool is_valid_route(std::string_view route);
// AJP secrets: 1..255 bytes of printable ASCII without spaces.
bool is_valid_secret(std::string_view secret);

// Parses the arguments of `IdmMember NAME ajp://HOST:PORT [key=value ...]`.
Expected<MemberConfig> parse_member(const std::vector<std::string_view>& args);

// Parses a duration: "5" (seconds), "5s", "250ms", "2m". Must be > 0.
Expected<std::uint32_t> parse_duration_ms(std::string_view text);
// As parse_duration_ms, but zero ("0", "0s", "0ms") is allowed (IdmPingAfterIdle 0).
Expected<std::uint32_t> parse_duration_or_zero_ms(std::string_view text);

// Parses a size in bytes: "65536", "64k", "1m" (k = 1024). At most `max`; 0 is allowed.
Expected<std::uint32_t> parse_byte_size(std::string_view text, std::uint32_t max);
inline constexpr std::uint32_t kMaxRequestBodyBuffer = 64u * 1024 * 1024;

// Applies one directive allowed inside <IdmBalancer> (e.g. "IdmConnectTimeout", {"3s"}, or
// "IdmMember", which adds a member) to `balancer`, through the directive table
// (directives.h). Names are case-insensitive; the error names the directive and what is
// wrong; a refused directive changes nothing.
Status apply_balancer_directive(BalancerConfig& balancer, std::string_view directive,
                                const std::vector<std::string_view>& args);

// Whole-balancer checks run once the section is closed: a valid name, at least one member,
// unique member names and routes, redirect targets exist, factors, packet size and pool size
// in range (also for a model that was not built from directives).
Status validate(const BalancerConfig& balancer);

// What a valid balancer should still be warned about at start-up: today, members without an
// AJP secret (anyone who reaches their AJP port can send Tomcat requests with any attribute:
// Ghostcat, CVE-2020-1938). One message per member.
std::vector<std::string> advisories(const BalancerConfig& balancer);

}  // namespace idmb::config

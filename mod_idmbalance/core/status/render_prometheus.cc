// The snapshot in the Prometheus text exposition format 0.0.4. Every family is written whole
// (HELP, TYPE, then one sample per member), as the format requires.
#include <array>
#include <cstdint>
#include <functional>
#include <string>

#include "idmb/status_render.h"

namespace idmb::status {
namespace {

constexpr std::array<std::string_view, 4> kStates = {"ok", "error", "recovering", "ejected"};
constexpr std::array<std::string_view, 4> kActivations = {"active", "disabled", "stopped", "standby"};

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void label(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append("=\"");
  append_prometheus_label_value(out, value);
  out += '"';
}

// name{balancer="...",member="...",route="..."[,extra="..."]} value
void sample(std::string& out, std::string_view name, const BalancerStatus& b, const MemberStatus& m,
            std::string_view value, std::string_view extra_label = {}, std::string_view extra_value = {}) {
  out.append(name).append("{");
  label(out, "balancer", b.name);
  out += ',';
  label(out, "member", m.name);
  out += ',';
  label(out, "route", m.route);
  if (!extra_label.empty()) {
    out += ',';
    label(out, extra_label, extra_value);
  }
  out.append("} ").append(value).append("\n");
}

using MemberValue = std::function<std::string(const MemberStatus&)>;

// One family with one sample per member.
void family(std::string& out, const Snapshot& snap, std::string_view name, std::string_view type, std::string_view help,
            const MemberValue& value) {
  header(out, name, type, help);
  for (const BalancerStatus& b : snap.balancers) {
    for (const MemberStatus& m : b.members) sample(out, name, b, m, value(m));
  }
}

std::string num(std::uint64_t v) { return std::to_string(v); }
std::string flag(bool v) { return v ? "1" : "0"; }

// A Prometheus histogram family: cumulative _bucket{le=...} per bound and +Inf, _sum in
// seconds, _count. (status::sample, qualified: std::string arguments would let ADL pick
// std::sample.)
void histogram(std::string& out, const Snapshot& snap, std::string_view name, std::string_view help,
               const latency::Histogram LatencyStatus::*which) {
  header(out, name, "histogram", help);
  const std::string bucket = std::string(name) + "_bucket";
  for (const BalancerStatus& b : snap.balancers) {
    for (const MemberStatus& m : b.members) {
      const latency::Histogram& h = m.latency.*which;
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < latency::kBoundsUs.size(); ++i) {
        cumulative += h.buckets[i];
        status::sample(out, bucket, b, m, num(cumulative), "le",
                       seconds_text(static_cast<std::uint64_t>(latency::kBoundsUs[i])));
      }
      status::sample(out, bucket, b, m, num(h.count), "le", "+Inf");
      status::sample(out, std::string(name) + "_sum", b, m, seconds_text(h.sum_us));
      status::sample(out, std::string(name) + "_count", b, m, num(h.count));
    }
  }
}

void error_family(std::string& out, const Snapshot& snap) {
  header(out, "idmbalance_member_errors_total", "counter",
         "Failed requests by error class; class=\"client\" counts client faults, which never make a member unhealthy.");
  for (const BalancerStatus& b : snap.balancers) {
    for (const MemberStatus& m : b.members) {
      for (std::size_t i = 0; i < m.errors.size(); ++i) {
        sample(out, "idmbalance_member_errors_total", b, m, num(m.errors[i]), "class",
               error_class_name(static_cast<table::ErrorClass>(i)));
      }
    }
  }
}

void response_time_families(std::string& out, const Snapshot& snap) {
  histogram(out, snap, "idmbalance_member_response_seconds",
            "Time from reserving the member to the end of its answer, per attempt that reached it.",
            &LatencyStatus::total);
  histogram(out, snap, "idmbalance_member_first_byte_seconds",
            "Time from reserving the member to its response headers, per attempt that got them.",
            &LatencyStatus::first_byte);
}

}  // namespace

std::string render_prometheus(const Snapshot& snap) {
  std::string out;
  family(out, snap, "idmbalance_member_requests_total", "counter", "Requests assigned to the member.",
         [](const MemberStatus& m) { return num(m.requests); });

  error_family(out, snap);
  response_time_families(out, snap);

  family(out, snap, "idmbalance_member_bytes_in_total", "counter", "Response body bytes received from the member.",
         [](const MemberStatus& m) { return num(m.bytes_in); });
  family(out, snap, "idmbalance_member_bytes_out_total", "counter", "Request body bytes sent to the member.",
         [](const MemberStatus& m) { return num(m.bytes_out); });
  family(out, snap, "idmbalance_member_sticky_hits_total", "counter",
         "Requests routed to the member by their session route.",
         [](const MemberStatus& m) { return num(m.sticky_hits); });
  family(out, snap, "idmbalance_member_busy", "gauge", "Requests in flight on the member.",
         [](const MemberStatus& m) { return std::to_string(m.busy); });
  family(out, snap, "idmbalance_member_factor", "gauge", "Current load factor of the member (1..100).",
         [](const MemberStatus& m) { return num(m.factor); });
  family(out, snap, "idmbalance_member_probe_ok", "gauge",
         "1 if the member's last health probe passed, else 0 (also 0 before the first probe).",
         [](const MemberStatus& m) { return flag(m.last_probe_ok); });
  family(out, snap, "idmbalance_member_secret_refused", "gauge",
         "1 if the member's answers look like Tomcat refusing the AJP secret (403 and close), else 0.",
         [](const MemberStatus& m) { return flag(m.secret_refused_ms > 0); });
  family(out, snap, "idmbalance_member_up", "gauge",
         "1 if the member is healthy or recovering and not stopped, else 0.", [](const MemberStatus& m) {
           return flag((m.state == "ok" || m.state == "recovering") && m.activation != "stopped");
         });

  header(out, "idmbalance_member_state", "gauge", "Health state of the member (1 for the current state).");
  for (const BalancerStatus& b : snap.balancers) {
    for (const MemberStatus& m : b.members) {
      for (std::string_view s : kStates) sample(out, "idmbalance_member_state", b, m, flag(m.state == s), "state", s);
    }
  }
  header(out, "idmbalance_member_activation", "gauge",
         "Operator activation of the member (1 for the current activation).");
  for (const BalancerStatus& b : snap.balancers) {
    for (const MemberStatus& m : b.members) {
      for (std::string_view a : kActivations) {
        sample(out, "idmbalance_member_activation", b, m, flag(m.activation == a), "activation", a);
      }
    }
  }

  family(out, snap, "idmbalance_member_drained", "gauge",
         "1 if the member is disabled, has nothing in flight and no recent request of a live session.",
         [](const MemberStatus& m) { return flag(m.drained); });
  return out;
}

}  // namespace idmb::status

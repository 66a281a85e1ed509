// The snapshot as JSON (schema in status_render.h): indented two spaces, keys in a fixed
// order, so the output is stable and diffs of two snapshots read well.
#include <array>
#include <optional>
#include <string>

#include "idmb/status_render.h"

namespace idmb::status {
namespace {

// Writes one value per call, managing commas and indentation; containers nest.
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  void begin_object(std::string_view key = {}) { open(key, '{'); }
  void end_object() { close('}'); }
  void begin_array(std::string_view key = {}) { open(key, '['); }
  void end_array() { close(']'); }

  void string(std::string_view key, std::string_view value) {
    member(key);
    append_json_string(out_, value);
  }
  void string_element(std::string_view value) { string({}, value); }
  void integer(std::string_view key, std::uint64_t value) {
    member(key);
    out_ += std::to_string(value);
  }
  void signed_integer(std::string_view key, std::int64_t value) {
    member(key);
    out_ += std::to_string(value);
  }
  // A number with three decimals, or null.
  void number(std::string_view key, std::optional<double> value) {
    member(key);
    out_ += value ? decimal(*value, 3) : "null";
  }
  void boolean(std::string_view key, bool value) {
    member(key);
    out_ += value ? "true" : "false";
  }

 private:
  // Starts a value: comma after a sibling, newline and indentation, then "key": in objects.
  void member(std::string_view key) {
    if (depth_ > 0) {
      if (!first_) out_ += ',';
      out_ += '\n';
      out_.append(2 * depth_, ' ');
    }
    first_ = false;
    if (!key.empty()) {
      append_json_string(out_, key);
      out_ += ": ";
    }
  }
  void open(std::string_view key, char bracket) {
    member(key);
    out_ += bracket;
    ++depth_;
    first_ = true;
  }
  void close(char bracket) {
    --depth_;
    if (!first_) {  // non-empty: the closing bracket goes on its own line
      out_ += '\n';
      out_.append(2 * depth_, ' ');
    }
    out_ += bracket;
    first_ = false;
  }

  std::string& out_;
  std::size_t depth_ = 0;
  bool first_ = true;
};

void write_histogram(JsonWriter& w, std::string_view key, const latency::Histogram& h, std::optional<double> p50,
                     std::optional<double> p90, std::optional<double> p99) {
  w.begin_object(key);
  w.integer("count", h.count);
  w.number("sum_ms", static_cast<double>(h.sum_us) / 1000.0);
  w.number("p50_ms", p50);
  w.number("p90_ms", p90);
  w.number("p99_ms", p99);
  w.begin_array("buckets");
  for (std::uint64_t n : h.buckets) w.integer({}, n);
  w.end_array();
  w.end_object();
}

void write_rates(JsonWriter& w, std::string_view key, const std::array<double, 3>& rates) {
  w.begin_object(key);
  for (std::size_t i = 0; i < rates.size(); ++i) {
    w.number(std::to_string(LatencyStatus::kRateMinutes[i]) + "m", rates[i]);
  }
  w.end_object();
}

void write_latency(JsonWriter& w, const LatencyStatus& l) {
  w.begin_object("latency");
  w.begin_object("last_minute");
  w.number("requests", l.minute_requests);
  w.number("p50_ms", l.minute_p50_ms);
  w.number("p90_ms", l.minute_p90_ms);
  w.number("p99_ms", l.minute_p99_ms);
  w.end_object();
  write_histogram(w, "since_start", l.total, l.p50_ms, l.p90_ms, l.p99_ms);
  write_histogram(w, "first_byte", l.first_byte, l.first_byte_p50_ms, l.first_byte_p90_ms, l.first_byte_p99_ms);
  write_rates(w, "requests_per_s", l.requests_per_s);
  write_rates(w, "errors_per_s", l.errors_per_s);
  w.begin_object("history");
  w.begin_array("requests");
  for (std::uint64_t n : l.history_requests) w.integer({}, n);
  w.end_array();
  w.begin_array("errors");
  for (std::uint64_t n : l.history_errors) w.integer({}, n);
  w.end_array();
  w.begin_array("p99_ms");
  for (const auto& p : l.history_p99_ms) w.number({}, p);
  w.end_array();
  w.end_object();
  w.end_object();
}

void write_member(JsonWriter& w, const MemberStatus& m) {
  w.begin_object();
  w.string("name", m.name);
  w.string("route", m.route);
  w.string("address", m.address);
  w.string("domain", m.domain);
  w.string("redirect", m.redirect);
  w.string("activation", m.activation);
  w.string("state", m.state);
  w.signed_integer("state_since_ms", m.state_since_ms);
  w.integer("factor", m.factor);
  w.signed_integer("busy", m.busy);
  w.integer("requests", m.requests);
  w.begin_object("errors");
  for (std::size_t i = 0; i < m.errors.size(); ++i) {
    w.integer(error_class_name(static_cast<table::ErrorClass>(i)), m.errors[i]);
  }
  w.end_object();
  w.integer("errors_total", m.errors_total);
  w.integer("bytes_in", m.bytes_in);
  w.integer("bytes_out", m.bytes_out);
  w.integer("sticky_hits", m.sticky_hits);
  w.string("last_error", m.last_error);
  w.signed_integer("last_error_ms", m.last_error_ms);
  w.signed_integer("secret_refused_ms", m.secret_refused_ms);
  w.signed_integer("last_sticky_ms", m.last_sticky_ms);
  w.signed_integer("last_probe_ms", m.last_probe_ms);
  w.boolean("last_probe_ok", m.last_probe_ok);
  w.signed_integer("ejected_until_ms", m.ejected_until_ms);
  w.integer("outlier_ejections", m.outlier_ejections);
  w.boolean("drained", m.drained);
  write_latency(w, m.latency);
  w.end_object();
}

void write_balancer(JsonWriter& w, const BalancerStatus& b) {
  w.begin_object();
  w.string("name", b.name);
  w.string("method", b.method);
  w.begin_object("sticky");
  w.boolean("enabled", b.sticky.enabled);
  w.string("cookie", b.sticky.cookie);
  w.string("path_param", b.sticky.path_param);
  w.boolean("force", b.sticky.force);
  w.end_object();
  w.begin_array("mounts");
  for (const std::string& mount : b.mounts) w.string_element(mount);
  w.end_array();
  w.begin_array("members");
  for (const MemberStatus& m : b.members) write_member(w, m);
  w.end_array();
  w.end_object();
}

}  // namespace

std::string render_json(const Snapshot& snap) {
  std::string out;
  out.reserve(1024 + 1024 * snap.balancers.size() * 4);
  JsonWriter w(out);
  w.begin_object();
  w.integer("schema", 2);
  w.string("version", snap.version);
  w.signed_integer("generated_ms", snap.generated_ms);
  w.integer("generation", snap.generation);
  if (!snap.nonce.empty()) w.string("nonce", snap.nonce);
  w.begin_array("latency_buckets_ms");
  for (std::int64_t us : latency::kBoundsUs) w.integer({}, static_cast<std::uint64_t>(us / 1000));
  w.end_array();
  w.begin_array("balancers");
  for (const BalancerStatus& b : snap.balancers) write_balancer(w, b);
  w.end_array();
  w.begin_array("events");
  for (const Event& e : snap.events) {
    w.begin_object();
    w.signed_integer("time_ms", e.time_ms);
    w.string("balancer", e.balancer);
    w.string("member", e.member);
    w.string("text", e.text);
    w.end_object();
  }
  w.end_array();
  w.end_object();
  out += '\n';
  return out;
}

}  // namespace idmb::status

// mod_jk lb and ajp13 workers -> <IdmBalancer> sections (workers_to_balancers.h).
#include "workers_to_balancers.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "../util/ascii.h"
#include "../util/text.h"
#include "idmb/config.h"

namespace idmb::migrate {
namespace {

constexpr std::string_view kIndent = "    ";

struct DroppedProperty {
  std::string_view attr;
  const char* reason;
};

constexpr DroppedProperty kDropped[] = {
    {"retries",
     "no retry count: a stale pooled connection is retried once on a fresh one, then the request fails over "
     "by the rules in the README (Failures, failover and recovery)"},
    {"lb_retries", "no retry count: a request fails over to other members by the README's failover rules"},
    {"retry_interval", "no sleep between attempts: failover to another member is immediate"},
    {"recovery_options",
     "not needed: a request that reached Tomcat is never sent again once its body was read or a response byte "
     "reached the client (bits 1, 2); GET and HEAD fail over when nothing was sent (bits 8, 16)"},
    {"recover_time",
     "members in error are probed (IdmHealthCheck interval=, default 5s) instead of being retried with a live "
     "request after recover_time"},
    {"error_escalation_time", "faults count against a member after IdmHealthCheck fall= in a row (default 2)"},
    {"max_reply_timeouts", "reply timeouts count as faults; IdmHealthCheck fall= says how many in a row"},
    {"lock", "no lock: the shared table uses atomics"},
    {"socket_keepalive", "no SO_KEEPALIVE option: IdmPingAfterIdle CPINGs idle connections before reuse"},
    {"socket_buffer", "no socket buffer option"},
    {"source", "no source-address option"},
    {"prefer_ipv6", "no address-family preference: write the IPv6 address as ajp://[ADDR]:PORT"},
    {"connection_pool_minsize", "idle connections are closed after IdmPoolIdleTimeout, none are kept open"},
    {"connection_acquire_timeout", "a request never waits for a pooled connection (a new one is opened)"},
    {"set_session_cookie", "no cookie is set for non-sticky requests"},
    {"session_cookie_path", "no cookie is set for non-sticky requests"},
    {"css", "the status page has its own style"},
    {"prefix", "the status page's formats are HTML, JSON and Prometheus"},
    {"ns", "the status page's formats are HTML, JSON and Prometheus"},
    {"xmlns", "the status page's formats are HTML, JSON and Prometheus"},
    {"doctype", "the status page's formats are HTML, JSON and Prometheus"},
    {"good", "the status page shows each member's state"},
    {"bad", "the status page shows each member's state"},
    {"user", "protect the <Location> with Require user (or any httpd authorization) instead"},
    {"user_case_insensitive", "protect the <Location> with Require user instead"},
    {"socket_timeout",
     "no per-operation socket timeout: IdmConnectTimeout (taken from it when socket_connect_timeout is unset) "
     "and IdmReplyTimeout bound the waits"},
    {"sticky_ignore", "every request with a session id is sticky"},
};

struct Ctx {
  const Workers& workers;
  Output& out;
};

// Reads a worker's attributes; whatever is not read is reported as not carried over.
class Reader {
 public:
  explicit Reader(const Worker& w) : w_(w) {}
  const Property* get(std::string_view attr) {
    used_.insert(std::string(attr));
    return w_.get(attr);
  }
  std::optional<std::uint64_t> number(std::string_view attr, Ctx& c) {
    const Property* p = get(attr);
    if (p == nullptr) return std::nullopt;
    auto n = ascii::parse_decimal(p->value);
    if (!n) c.out.warn(kIndent, p->origin, p->key + ": not a number, ignored: " + text::quoted(p->value));
    return n;
  }
  void report_unused(Ctx& c, std::string_view indent) const {
    for (const auto& [attr, prop] : w_.attrs) {
      if (used_.count(attr) || attr == "type" || attr == "reference") continue;
      const char* why = dropped_property_reason(attr);
      c.out.warn(indent, prop.origin,
                 prop.key + " is not carried over: " + (why ? why : "not a worker property mod_idmbalance knows"));
    }
  }

 private:
  const Worker& w_;
  std::set<std::string> used_;
};

std::string ajp_url(Reader& r, Ctx& c, bool& stopped) {
  std::string host = "localhost";
  std::string port = "8009";
  if (const Property* h = r.get("host")) {
    host = h->value;
    const std::size_t colon = host.rfind(':');
    if (colon != std::string::npos && host.find(':') == colon) {  // host:port, not a bare IPv6 address
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
  }
  if (const Property* p = r.get("port")) port = p->value;
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  if (port == "0") {
    stopped = true;
    port = "8009";
    c.out.warn(kIndent, r.get("port")->origin, "port 0 (a member that starts stopped): written as status=stopped");
  }
  return "ajp://" + host + ":" + port;
}

std::string activation(Reader& r, Ctx& c) {
  if (const Property* a = r.get("activation")) {
    switch (ascii::to_lower(a->value.empty() ? 'a' : a->value[0])) {
      case 'd': return "disabled";
      case 's': return "stopped";
      case 'a': return "active";
      default: c.out.warn(kIndent, a->origin, a->key + ": unknown activation " + text::quoted(a->value) + ", active");
    }
  }
  if (const Property* d = r.get("disabled"); d && parse_bool(d->value).value_or(false)) return "disabled";
  if (const Property* s = r.get("stopped"); s && parse_bool(s->value).value_or(false)) return "stopped";
  return "active";
}

// One IdmMember line's arguments.
std::vector<std::string> member_args(const Worker& w, Reader& r, Ctx& c, std::uint64_t factor) {
  bool stopped = false;
  std::vector<std::string> args = {w.name, ajp_url(r, c, stopped)};
  const Property* route = r.get("route");
  if (route == nullptr) route = r.get("jvm_route");
  if (route && route->value != w.name) args.push_back("route=" + route->value);
  if (factor != 1) args.push_back("factor=" + std::to_string(factor));
  const std::string status = stopped ? "stopped" : activation(r, c);
  if (status != "active") args.push_back("status=" + status);
  for (std::string_view key : {"domain", "redirect", "secret"}) {
    if (const Property* p = r.get(key)) args.push_back(std::string(key) + "=" + p->value);
  }
  // mod_jk (1.2.20 on): a route with a '.' puts its member in the domain before that '.',
  // unless domain is set.
  const std::string_view own_route = route ? std::string_view(route->value) : std::string_view(w.name);
  if (const std::size_t dot = own_route.find('.'); r.get("domain") == nullptr && dot != 0 && dot != own_route.npos) {
    args.push_back("domain=" + std::string(own_route.substr(0, dot)));
  }
  if (auto distance = r.number("distance", c); distance && *distance != 0) {
    args.push_back("distance=" + std::to_string(*distance));
  }
  if (auto busy = r.number("busy_limit", c); busy && *busy != 0) args.push_back("max=" + std::to_string(*busy));
  return args;
}

// lbfactor, scaled down when the balancer's largest is above what this build accepts.
std::map<std::string, std::uint64_t> factors(const std::vector<const Worker*>& members, Ctx& c) {
  std::map<std::string, std::uint64_t> f;
  std::uint64_t largest = 1;
  const Property* where = nullptr;
  for (const Worker* m : members) {
    std::uint64_t v = 1;
    if (const Property* p = m->get("lbfactor")) {
      v = std::max<std::uint64_t>(1, ascii::parse_decimal(p->value).value_or(1));
      if (v > largest) where = p;
    }
    largest = std::max(largest, v);
    f[m->name] = v;
  }
  if (largest <= config::kMaxFactor) return f;
  for (auto& [name, v] : f) v = std::max<std::uint64_t>(1, (v * config::kMaxFactor + largest / 2) / largest);
  c.out.warn(kIndent, where->origin,
             "lbfactor above " + std::to_string(config::kMaxFactor) +
                 " (this build's largest factor): every factor of the balancer scaled to keep the ratios");
  return f;
}

struct Setting {
  std::string directive;
  std::vector<std::string> args;
  Origin origin;
};

// A member setting that is one balancer directive here: the first member's value, a warning
// when another member has a different one.
class Shared {
 public:
  void offer(const Property& p, std::string directive, std::vector<std::string> args, Ctx& c) {
    for (const Setting& s : settings_) {
      if (s.directive != directive) continue;
      if (s.args != args) {
        c.out.warn(kIndent, p.origin,
                   p.key + ": members of one balancer share " + directive + "; the first member's value is used");
      }
      return;
    }
    settings_.push_back(Setting{std::move(directive), std::move(args), p.origin});
  }
  const std::vector<Setting>& settings() const { return settings_; }

 private:
  std::vector<Setting> settings_;
};

std::string ms(std::uint64_t v) { return std::to_string(v) + "ms"; }

void ping_settings(Reader& r, Ctx& c, Shared& shared) {
  const Property* mode = r.get("ping_mode");
  const Property* timeout = r.get("ping_timeout");
  const Property* prepost = r.get("prepost_timeout");
  r.get("connect_timeout");  // CPING after connect: a new connection is not CPINGed here
  auto interval = r.number("connection_ping_interval", c);
  std::string m = mode ? mode->value : "";
  if (prepost && ascii::parse_decimal(prepost->value).value_or(0) > 0) m += "P";
  if (m.find_first_of("APap") != std::string::npos) {
    shared.offer(mode ? *mode : *prepost, "IdmPingAfterIdle", {"0"}, c);
  } else if (m.find_first_of("Ii") != std::string::npos && interval && *interval > 0) {
    shared.offer(*mode, "IdmPingAfterIdle", {std::to_string(*interval) + "s"}, c);
  }
  const Property* t = timeout ? timeout : (prepost ? prepost : nullptr);
  if (t) {
    if (auto v = ascii::parse_decimal(t->value); v && *v > 0) shared.offer(*t, "IdmPingTimeout", {ms(*v)}, c);
  }
}

void connection_settings(Reader& r, Ctx& c, Shared& shared) {
  const Property* connect = r.get("socket_connect_timeout");
  if (auto v = connect ? ascii::parse_decimal(connect->value) : std::nullopt; v && *v > 0) {
    shared.offer(*connect, "IdmConnectTimeout", {ms(*v)}, c);
  } else if (const Property* st = r.get("socket_timeout"); st && ascii::parse_decimal(st->value).value_or(0) > 0) {
    shared.offer(*st, "IdmConnectTimeout", {st->value + "s"}, c);
  }
  if (const Property* p = r.get("reply_timeout")) {
    if (auto v = ascii::parse_decimal(p->value); v && *v > 0) shared.offer(*p, "IdmReplyTimeout", {ms(*v)}, c);
  }
  ping_settings(r, c, shared);
  for (std::string_view key : {"connection_pool_size", "cachesize"}) {
    if (const Property* p = r.get(key); p && ascii::parse_decimal(p->value).value_or(0) > 0) {
      shared.offer(*p, "IdmPoolSize", {p->value}, c);
    }
  }
  for (std::string_view key : {"connection_pool_timeout", "cache_timeout", "recycle_timeout"}) {
    if (const Property* p = r.get(key); p && ascii::parse_decimal(p->value).value_or(0) > 0) {
      shared.offer(*p, "IdmPoolIdleTimeout", {p->value + "s"}, c);
    }
  }
  if (const Property* p = r.get("max_packet_size")) {
    std::uint64_t v = ascii::parse_decimal(p->value).value_or(config::kMinPacketSize);
    v = std::clamp<std::uint64_t>((v + 1023) / 1024 * 1024, config::kMinPacketSize, config::kMaxPacketSize);
    shared.offer(*p, "IdmPacketSize", {std::to_string(v)}, c);
  }
  if (const Property* p = r.get("fail_on_status")) {
    shared.offer(*p, "IdmFailOnStatus", split_list(p->value), c);
  }
}

std::string method_name(const Property& p, Ctx& c) {
  switch (ascii::to_lower(p.value.empty() ? 'r' : p.value[0])) {
    case 'r':
    case '0': return "requests";
    case 't':
    case '1': return "traffic";
    case 'b':
    case '2': return "busyness";
    case 's':
    case '3':
      c.out.warn(kIndent, p.origin,
                 p.key +
                     "=Session: no method counts sessions; IdmMethod requests is nearest (it counts every "
                     "request, so with sticky sessions new sessions still go round the members by factor; "
                     "long and short sessions weigh differently)");
      return "requests";
    case 'n':
    case '4':
      c.out.warn(kIndent, p.origin,
                 p.key +
                     "=Next: no method counts sessions; IdmMethod requests is nearest (weighted round "
                     "robin over all requests rather than over new sessions)");
      return "requests";
    default:
      c.out.warn(kIndent, p.origin, p.key + ": unknown method " + text::quoted(p.value) + ", requests is used");
      return "requests";
  }
}

void lb_settings(const Worker& lb, Reader& r, Ctx& c, std::vector<Setting>& out) {
  if (const Property* s = r.get("secret")) out.push_back({"IdmSecret", {s->value}, s->origin});
  const Property* sticky = r.get("sticky_session");
  const Property* force = r.get("sticky_session_force");
  const Property* cookie = r.get("session_cookie");
  const Property* path = r.get("session_path");
  if (sticky && !parse_bool(sticky->value).value_or(true)) {
    out.push_back({"IdmSticky", {"off"}, sticky->origin});
  } else if (cookie || path || (force && parse_bool(force->value).value_or(false))) {
    std::string param = path ? path->value : "jsessionid";
    if (!param.empty() && param.front() == ';') param.erase(0, 1);
    std::vector<std::string> args = {cookie ? cookie->value : "JSESSIONID", param};
    if (force && parse_bool(force->value).value_or(false)) args.push_back("force");
    out.push_back({"IdmSticky", args, (cookie ? cookie : path ? path : force)->origin});
  }
  if (const Property* m = r.get("method")) {
    if (std::string name = method_name(*m, c); name != "requests") out.push_back({"IdmMethod", {name}, m->origin});
  }
  r.get("balance_workers");
  r.get("balanced_workers");
  r.get("mount");
  (void)lb;
}

// The members of an lb worker (ajp13 workers only), or the ajp13 worker itself.
std::vector<const Worker*> members_of(const Worker& w, Ctx& c) {
  std::vector<const Worker*> members;
  if (w.type != WorkerType::Lb) return {&w};
  const Property* list = w.get("balance_workers");
  if (list == nullptr) list = w.get("balanced_workers");
  if (list == nullptr) return members;
  for (const std::string& name : split_list(list->value)) {
    const Worker* m = c.workers.find(name);
    if (m == nullptr || m->type != WorkerType::Ajp13) {
      c.out.warn(kIndent, list->origin,
                 "member " + text::quoted(name) + " of " + w.name + " is not an ajp13 worker: left out");
      continue;
    }
    members.push_back(m);
  }
  return members;
}

void write_balancer(const Worker& w, Ctx& c) {
  const Origin origin = w.get("type") ? w.get("type")->origin : Origin{};
  c.out.line("", "");
  c.out.comment("", "worker." + w.name + " (" + origin.file + ":" + std::to_string(origin.line) + ")");
  c.out.directive("", 0, origin, "<IdmBalancer", {w.name});
  std::vector<const Worker*> members = members_of(w, c);
  if (members.empty()) c.out.warn(kIndent, origin, "worker." + w.name + " has no ajp13 member");
  const auto f = factors(members, c);
  Shared shared;
  for (const Worker* m : members) {
    Reader r(*m);
    r.get("lbfactor");
    const std::vector<std::string> args = member_args(*m, r, c, f.at(m->name));
    connection_settings(r, c, shared);
    r.report_unused(c, kIndent);
    c.out.directive(kIndent, 0, m->get("type") ? m->get("type")->origin : origin, "IdmMember", args);
  }
  std::vector<Setting> settings = shared.settings();
  Reader lr(w);
  if (w.type == WorkerType::Lb) lb_settings(w, lr, c, settings);
  for (const Setting& s : settings) c.out.directive(kIndent, 0, s.origin, s.directive, s.args);
  if (w.type == WorkerType::Lb) lr.report_unused(c, kIndent);
  c.out.directive("", 0, origin, "</IdmBalancer", {});
}

}  // namespace

void write_balancers(const Workers& workers, const std::set<std::string>& direct, Output& out) {
  Ctx c{workers, out};
  for (const auto& [name, w] : workers.by_name) {
    const bool wanted = w.type == WorkerType::Lb || (w.type == WorkerType::Ajp13 && direct.count(name));
    if (wanted) write_balancer(w, c);
    if (w.type == WorkerType::Other &&
        std::find(workers.list.begin(), workers.list.end(), name) != workers.list.end()) {
      const Origin o = w.get("type")->origin;
      out.warn("", o,
               "worker." + name + " has type " + w.type_text + ", which mod_idmbalance does not speak: left out");
    }
  }
  if (workers.maintain) {
    out.note("", "worker.maintain dropped: health probes run on their own schedule (IdmHealthCheck)");
  }
}

std::string status_handler(const Worker& w, Output& out, std::string_view indent) {
  const Workers no_workers;
  Ctx c{no_workers, out};
  Reader r(w);
  const Property* ro = r.get("read_only");
  r.get("mount");
  r.report_unused(c, indent);
  return ro && parse_bool(ro->value).value_or(false) ? "idmbalance-status" : "idmbalance-manager";
}

const char* dropped_property_reason(std::string_view attr) {
  for (const DroppedProperty& d : kDropped) {
    if (d.attr == attr) return d.reason;
  }
  return nullptr;
}

}  // namespace idmb::migrate

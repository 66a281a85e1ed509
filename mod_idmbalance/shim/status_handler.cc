// The status (read-only) and manager (read-write) handlers. Both render one snapshot of the
// shared table as HTML, JSON or Prometheus text; the manager also applies POSTed commands after
// the nonce and same-origin checks. Rendering and command rules live in the core.
#include <algorithm>
#include <cstring>

#include "httpd.h"
#include "apr_strings.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

#include "idmb/control.h"
#include "idmb/status_render.h"
#include "idmb/status_snapshot.h"
#include "idmb/version.h"
#include "status_handler.h"
#include "shim_log.h"

APLOG_USE_MODULE(idmbalance);

namespace idmb::shim {
namespace {

constexpr std::size_t kEventsShown = 30;

status::Snapshot snapshot_of(Runtime& runtime, bool with_nonce) {
  std::vector<status::BalancerSource> sources;
  for (auto& b : runtime.balancers) {
    status::BalancerSource source;
    source.config = b.config;
    for (auto& m : b.members) {
      source.slots.push_back(m.slot);
    }
    source.mounts = b.mounts;
    source.method = table::method_of(*b.settings);
    source.sticky_force = b.settings->sticky_force.load(std::memory_order_relaxed) != 0;
    sources.push_back(std::move(source));
  }
  status::SnapshotInfo info{std::string(module_version()), runtime.table_generation,
                            with_nonce ? runtime.nonce : std::string()};
  status::Snapshot snap = status::take_snapshot(sources, runtime.clock.now_ms(), runtime.drain_quiet_ms, info);
  if (runtime.table) {
    for (const auto& event : runtime.table->recent_events(kEventsShown)) {
      status::Event shown{event.time_ms, {}, {}, event.text};
      if (event.member < runtime.table->size()) {
        const table::MemberSlot& slot = runtime.table->slot(event.member);
        shown.balancer.assign(slot.balancer, ::strnlen(slot.balancer, table::kNameSize));
        shown.member.assign(slot.member, ::strnlen(slot.member, table::kNameSize));
      }
      snap.events.push_back(std::move(shown));
    }
  }
  return snap;
}

std::string query_value(request_rec* r, const char* key) {
  if (r->args == nullptr) {
    return {};
  }
  auto form = status::parse_form(r->args);
  if (!form) {
    return {};
  }
  const std::string* value = form->find(key);
  return value ? *value : std::string();
}

int send_text(request_rec* r, std::string_view content_type, const std::string& body) {
  ap_set_content_type(r, apr_pstrmemdup(r->pool, content_type.data(), content_type.size()));
  apr_table_setn(r->headers_out, "Cache-Control", "no-store");
  apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
  ap_set_content_length(r, static_cast<apr_off_t>(body.size()));
  if (!r->header_only) {
    ap_rwrite(body.data(), static_cast<int>(body.size()), r);
  }
  return OK;
}

int render(request_rec* r, Runtime& runtime, bool manager) {
  status::Snapshot snap = snapshot_of(runtime, manager);
  std::string format = query_value(r, "format");
  if (format == "json") {
    return send_text(r, status::kJsonContentType, status::render_json(snap));
  }
  if (format == "prometheus") {
    return send_text(r, status::kPrometheusContentType, status::render_prometheus(snap));
  }
  status::HtmlOptions options;
  options.manager = manager;
  options.action_url = r->uri;
  options.json_url = std::string(r->uri) + "?format=json";
  options.prometheus_url = std::string(r->uri) + "?format=prometheus";
  if (std::string refresh = query_value(r, "refresh"); !refresh.empty()) {
    options.refresh_seconds = std::clamp(std::atoi(refresh.c_str()), 0, 3600);
  }
  if (format == "html" || format.empty()) {
    return send_text(r, status::kHtmlContentType, status::render_html(snap, options));
  }
  return HTTP_NOT_FOUND;  // an unknown format: nothing to show
}

const MemberRuntime* find_member(Runtime& runtime, std::string_view balancer, std::string_view member) {
  auto found = runtime.by_name.find(std::string(balancer));
  if (found == runtime.by_name.end()) {
    return nullptr;
  }
  for (const auto& m : found->second->members) {
    if (m.config->name == member) {
      return &m;
    }
  }
  return nullptr;
}

// Manager commands act on the shared table, so every child sees them at once.
class TableControl final : public status::ControlTarget {
 public:
  explicit TableControl(Runtime& runtime) : runtime_(runtime) {}
  bool has_balancer(std::string_view name) override { return find(name) != nullptr; }
  table::MemberSlot* member(std::string_view balancer, std::string_view member) override {
    const MemberRuntime* m = find_member(runtime_, balancer, member);
    return m ? m->slot : nullptr;
  }
  Status set_method(std::string_view balancer, config::Method method) override {
    BalancerRuntime* b = find(balancer);
    b->settings->method.store(static_cast<std::uint32_t>(method), std::memory_order_relaxed);
    return Ok{};
  }
  Status set_sticky_force(std::string_view balancer, bool force) override {
    BalancerRuntime* b = find(balancer);
    b->settings->sticky_force.store(force ? 1 : 0, std::memory_order_relaxed);
    return Ok{};
  }
  std::int64_t now_ms() override { return runtime_.clock.now_ms(); }
  const health::Policy* health_policy(std::string_view balancer) override {
    BalancerRuntime* b = find(balancer);
    return b ? &b->config->health : nullptr;
  }

 private:
  BalancerRuntime* find(std::string_view name) {
    auto found = runtime_.by_name.find(std::string(name));
    return found == runtime_.by_name.end() ? nullptr : found->second;
  }
  Runtime& runtime_;
};

// Reads a small form body; nullopt if it is larger than the form limit or unreadable.
std::optional<std::string> read_form_body(request_rec* r) {
  if (ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK) != OK || !ap_should_client_block(r)) {
    return std::string();
  }
  std::string body;
  char buf[2048];
  long n;
  while ((n = ap_get_client_block(r, buf, sizeof buf)) > 0) {
    body.append(buf, static_cast<std::size_t>(n));
    if (body.size() > status::kMaxFormBytes) {
      return std::nullopt;
    }
  }
  if (n < 0) {
    return std::nullopt;
  }
  return body;
}

bool wants_json(request_rec* r) {
  const char* accept = apr_table_get(r->headers_in, "Accept");
  return accept != nullptr && std::strstr(accept, "application/json") != nullptr;
}

int refuse(request_rec* r, int status, const std::string& why) {
  IDMB_LOG_R(APLOG_WARNING, r, "balancer manager: refused: %s", why.c_str());
  return status;
}

// The change in the shared table's event list, under its member (or none, balancer-wide).
void add_manager_event(Runtime& runtime, const status::Command& command, const std::string& message) {
  if (!runtime.table) return;
  // Balancer-wide changes name no member; the text says which balancer.
  std::size_t index = table::kNoMember;
  std::string_view what = message;  // "balancer[/member]: what changed"
  if (const MemberRuntime* m = find_member(runtime, command.balancer, command.member)) {
    index = m->table_index;
    // The page names the member of an event already.
    if (auto colon = what.find(": "); colon != std::string_view::npos) {
      what.remove_prefix(colon + 2);
    }
  }
  runtime.table->add_event(index, runtime.clock.now_ms(), "manager: " + std::string(what));
}

int handle_post(request_rec* r, Runtime& runtime) {
  // Same origin first: a cross-site form post is refused before its body is looked at.
  const char* origin = apr_table_get(r->headers_in, "Origin");
  const char* referer = apr_table_get(r->headers_in, "Referer");
  const char* host = apr_table_get(r->headers_in, "Host");
  std::string_view host_header = host ? host : "";
  if ((origin && !status::same_origin(origin, host_header)) ||
      (referer && !status::same_origin(referer, host_header))) {
    return refuse(r, HTTP_FORBIDDEN, "Origin/Referer is not this server");
  }
  auto body = read_form_body(r);
  if (!body) {
    return refuse(r, HTTP_REQUEST_ENTITY_TOO_LARGE, "form body too large or unreadable");
  }
  auto form = status::parse_form(*body);
  if (!form) {
    return refuse(r, HTTP_BAD_REQUEST, form.error());
  }
  const std::string* nonce = form->find("nonce");
  if (nonce == nullptr || !status::nonce_matches(runtime.nonce, *nonce)) {
    return refuse(r, HTTP_FORBIDDEN, "missing or wrong nonce");
  }
  auto command = status::parse_command(*form);
  if (!command) {
    return refuse(r, HTTP_BAD_REQUEST, command.error());
  }
  TableControl target(runtime);
  status::ControlResult result = status::apply_command(*command, target);
  using Code = status::ControlResult::Code;
  if (result.code == Code::NotFound) {
    return refuse(r, HTTP_NOT_FOUND, result.message);
  }
  if (result.code == Code::Invalid) {
    return refuse(r, HTTP_BAD_REQUEST, result.message);
  }
  if (result.code == Code::Failed) {
    return refuse(r, HTTP_INTERNAL_SERVER_ERROR, result.message);
  }
  IDMB_LOG_R(APLOG_NOTICE, r, "balancer manager: %s (by %s)", result.message.c_str(), r->useragent_ip);
  add_manager_event(runtime, *command, result.message);
  if (wants_json(r)) {
    std::string json = "{\"ok\":true,\"message\":";
    status::append_json_string(json, result.message);
    json += "}\n";
    return send_text(r, status::kJsonContentType, json);
  }
  // Post/redirect/get: a reload of the page does not post the form again.
  apr_table_setn(r->headers_out, "Location", ap_escape_uri(r->pool, r->uri));
  return HTTP_SEE_OTHER;
}

// ServerName, ServerAlias (exact and wildcard) and the local address, for host_names_server.
status::ServerNames server_names(const request_rec* r) {
  status::ServerNames names;
  names.server_name = r->server->server_hostname ? r->server->server_hostname : "";
  names.local_address = r->connection->local_ip ? r->connection->local_ip : "";
  for (const apr_array_header_t* list : {r->server->names, r->server->wild_names}) {
    if (list == nullptr) continue;
    const auto* items = reinterpret_cast<const char* const*>(list->elts);
    for (int i = 0; i < list->nelts; ++i) {
      names.aliases.emplace_back(items[i]);
    }
  }
  return names;
}

}  // namespace

int handle_status_page(request_rec* r, Runtime& runtime, bool manager) {
  // A page on a rebound DNS name could read the nonce and post with it: the manager answers
  // only to names of this server, whatever the method.
  if (manager && !status::host_names_server(r->hostname ? r->hostname : "", server_names(r))) {
    return refuse(r, HTTP_MISDIRECTED_REQUEST,
                  std::string("Host ") + (r->hostname ? r->hostname : "") +
                      " is not a name of this server (ServerName, ServerAlias or its address)");
  }
  if (r->method_number == M_GET) {
    return render(r, runtime, manager);
  }
  if (manager && r->method_number == M_POST) {
    return handle_post(r, runtime);
  }
  // The read-only page never changes anything, whatever it is sent.
  r->allowed = (AP_METHOD_BIT << M_GET) | (manager ? (AP_METHOD_BIT << M_POST) : 0);
  return HTTP_METHOD_NOT_ALLOWED;
}

}  // namespace idmb::shim

#include "request_mapping.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <new>

#include "apr_strings.h"
#include "http_core.h"
#include "http_protocol.h"
#include "http_ssl.h"

#include "idmb/http_rules.h"
#include "idmb/request_env.h"
#include "idmb/uri_path.h"
#include "shim_module.h"

namespace idmb::shim {
namespace {

std::optional<std::string_view> opt(const char* s) {
  if (s == nullptr || *s == '\0') {
    return std::nullopt;
  }
  return std::string_view(s);
}

std::optional<std::string_view> opt_header(request_rec* r, const char* name) {
  const char* value = apr_table_get(r->headers_in, name);
  return value ? std::optional<std::string_view>(value) : std::nullopt;
}

// An apr table's entries, in order, as views (into the request pool).
void append_entries(const apr_table_t* table, std::vector<ajp::Header>& out) {
  const apr_array_header_t* elts = apr_table_elts(table);
  const auto* entries = reinterpret_cast<const apr_table_entry_t*>(elts->elts);
  out.reserve(out.size() + static_cast<std::size_t>(elts->nelts));
  for (int i = 0; i < elts->nelts; ++i) {
    if (entries[i].key != nullptr) {
      out.push_back({entries[i].key, entries[i].val ? entries[i].val : ""});
    }
  }
}

void add_ssl_attributes(request_rec* r, ajp::ForwardRequest& fr) {
  auto var = [r](const char* name) { return ap_ssl_var_lookup(r->pool, r->server, r->connection, r, name); };
  fr.ssl_cipher = opt(var("SSL_CIPHER"));
  fr.ssl_session = opt(var("SSL_SESSION_ID"));
  if (const char* bits = var("SSL_CIPHER_USEKEYSIZE"); bits != nullptr && *bits) {
    fr.ssl_key_size = static_cast<std::uint16_t>(apr_atoi64(bits));
  }
  // Client certificate first, then its chain, as one PEM string (Tomcat parses them all).
  if (const char* cert = var("SSL_CLIENT_CERT"); cert != nullptr && *cert) {
    const char* pem = cert;
    for (int i = 0; i < 16; ++i) {
      const char* link = var(apr_psprintf(r->pool, "SSL_CLIENT_CERT_CHAIN_%d", i));
      if (link == nullptr || *link == '\0') {
        break;
      }
      pem = apr_pstrcat(r->pool, pem, "\n", link, nullptr);
    }
    fr.ssl_cert = pem;
  }
  if (const char* protocol = var("SSL_PROTOCOL"); protocol != nullptr && *protocol) {
    fr.request_attributes.push_back({"AJP_SSL_PROTOCOL", protocol});
  }
}

}  // namespace

RequestState* request_state(const request_rec* r) {
  return static_cast<RequestState*>(ap_get_module_config(r->request_config, &idmbalance_module));
}

RequestState& request_state_make(request_rec* r) {
  RequestState* state = request_state(r);
  if (state == nullptr) {
    state = new (apr_palloc(r->pool, sizeof(RequestState))) RequestState{};
    ap_set_module_config(r->request_config, &idmbalance_module, state);
  }
  return *state;
}

void note_client_connection_fields(request_rec* r) {
  const char* connection = apr_table_get(r->headers_in, "Connection");
  if (connection == nullptr || !http::connection_lists_fields(connection)) {
    return;
  }
  apr_table_t* listed = apr_table_make(r->pool, 2);
  const apr_array_header_t* elts = apr_table_elts(r->headers_in);
  const auto* entries = reinterpret_cast<const apr_table_entry_t*>(elts->elts);
  for (int i = 0; i < elts->nelts; ++i) {
    if (entries[i].key != nullptr && http::listed_in_connection(connection, entries[i].key)) {
      apr_table_addn(listed, entries[i].key, entries[i].val ? entries[i].val : "");
    }
  }
  RequestState& state = request_state_make(r);
  state.client_connection = connection;
  state.client_listed = listed;
}

std::string_view raw_target_path(const char* unparsed_uri) {
  std::string_view target = unparsed_uri ? unparsed_uri : "";
  if (!target.empty() && target.front() != '/') {
    auto scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos) {
      return {};
    }
    auto path_start = target.find('/', scheme_end + 3);
    target = path_start == std::string_view::npos ? std::string_view("/") : target.substr(path_start);
  }
  // Two memchr calls: the query, then a fragment before it (find_first_of("?#") calls memchr
  // once per byte of the target; a plain loop measured ~80 instructions more per request).
  const std::size_t query = std::min(target.find('?'), target.size());
  return target.substr(0, std::min(target.substr(0, query).find('#'), query));
}

namespace {

bool contains_encoded_semicolon(std::string_view raw) {
  for (std::size_t at = raw.find('%'); at != std::string_view::npos && at + 2 < raw.size();
       at = raw.find('%', at + 1)) {
    if (raw[at + 1] == '3' && (raw[at + 2] == 'B' || raw[at + 2] == 'b')) {
      return true;
    }
  }
  return false;
}

// Forward the path exactly as the client encoded it, so that Tomcat decodes it once (no
// double decoding) — provided it still means the path that was mounted (r->uri, which httpd's
// access rules judged). After a rewrite it does not, and r->uri is sent re-encoded instead.
// So is a raw path with an encoded ';': Tomcat takes "%3B" as data, not as the start of a path
// parameter, so it would serve another path than r->uri.
std::string_view path_to_forward(request_rec* r) {
  std::string_view raw = raw_target_path(r->unparsed_uri);
  // The usual case, without copies: no '%' (decoding changes nothing), no ".." (the path
  // normalises) and the same text as r->uri, so it means the mounted path.
  if (raw == r->uri && raw.find('%') == std::string_view::npos && raw.find("..") == std::string_view::npos &&
      is_forwardable_raw_path(raw)) {
    return raw;
  }
  if (!raw.empty() && is_forwardable_raw_path(raw) && !contains_encoded_semicolon(raw)) {
    char* decoded = apr_pstrmemdup(r->pool, raw.data(), raw.size());
    if (ap_unescape_url(decoded) == OK) {
      auto mounted = normalize_path_for_mount(r->uri);
      if (mounted && normalize_path_for_mount(decoded) == mounted) {
        return apr_pstrmemdup(r->pool, raw.data(), raw.size());
      }
    }
  }
  return ap_os_escape_path(r->pool, r->uri, 1);
}

}  // namespace

void map_request(request_rec* r, ajp::ForwardRequest& fr, request::ClientHead& head,
                 std::vector<ajp::Header>& client_listed) {
  head.method = r->method;
  auto* core = static_cast<core_server_config*>(ap_get_core_module_config(r->server->module_config));
  head.trace_disabled = core->trace_enable == AP_TRACE_DISABLE;
  head.transfer_encoding = opt_header(r, "Transfer-Encoding");
  head.content_length = opt_header(r, "Content-Length");
  head.body_limit = static_cast<std::uint64_t>(std::max<apr_off_t>(ap_get_limit_req_body(r), 0));

  fr.method = r->method;
  fr.protocol = r->protocol;
  fr.uri = path_to_forward(r);
  fr.remote_addr = r->useragent_ip;
  fr.server_name = ap_get_server_name(r);
  fr.server_port = static_cast<std::uint16_t>(ap_get_server_port(r));
  fr.is_ssl = ap_ssl_conn_is_ssl(r->connection) != 0;
  fr.query_string = opt(r->args);
  fr.remote_user = opt(r->user);
  fr.auth_type = opt(r->ap_auth_type);

  // The Connection header as the client sent it, and the fields it listed (see RequestState).
  if (const RequestState* state = request_state(r); state != nullptr && state->client_connection != nullptr) {
    head.client_connection = state->client_connection;
    append_entries(state->client_listed, client_listed);
    head.client_listed = client_listed;
  }
  // Every header; request::prepare keeps those Tomcat may see.
  append_entries(r->headers_in, fr.headers);

  fr.request_attributes.reserve(3);  // one allocation, not one per attribute
  if (fr.is_ssl) {
    add_ssl_attributes(r, fr);
  }
  char* port = static_cast<char*>(apr_palloc(r->pool, 8));  // apr_itoa measured ~100 instructions
  *std::to_chars(port, port + 7, r->useragent_addr ? r->useragent_addr->port : 0).ptr = '\0';
  fr.request_attributes.push_back({"AJP_REMOTE_PORT", port});
  fr.request_attributes.push_back({"AJP_LOCAL_ADDR", r->connection->local_ip});

  // IdmEnvIndicator and IdmEnvAttribute: the core reads the variables the config names.
  const ServerConfig& conf = *server_config(r->server);
  if (!conf.env_indicators().empty() || !conf.env_attributes().empty()) {
    request::apply_env(conf.env_indicators(), conf.env_attributes(), SubprocessEnv(r), fr);
  }
}

std::optional<std::string_view> SubprocessEnv::get(std::string_view name) const {
  const char* value = apr_table_get(r_->subprocess_env, std::string(name).c_str());
  return value ? std::optional<std::string_view>(value) : std::nullopt;
}

}  // namespace idmb::shim

// The request path: pick a member, get a pooled (or new) connection, run the exchange, turn
// its outcome into a status and one log line. Balancing decisions come from the core.
#include <cstring>
#include <string>

#include "httpd.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

#include "client_brigade.h"
#include "idmb/member_order.h"
#include "request_mapping.h"
#include "runtime.h"
#include "shim_module.h"

APLOG_USE_MODULE(idmbalance);

namespace idmb::shim {
namespace {

using forward::Outcome;

// Methods that may be sent again after a stale pooled connection failed before any reply.
bool is_idempotent(const request_rec* r) {
  switch (r->method_number) {
    case M_GET: case M_PUT: case M_DELETE: case M_OPTIONS: case M_TRACE:
      return true;
    default:
      return false;
  }
}

// A pooled connection that is still clean, CPINGed first if it sat idle for a while; or a
// new one. `reused` tells which.
std::unique_ptr<BackendConnection> acquire(request_rec* r, const BalancerRuntime& balancer, MemberRuntime& member,
                                           bool& reused, std::string& error) {
  const auto& cfg = *balancer.config;
  while (auto connection = member.pool.take()) {
    if (!connection->idle_and_clean()) {
      ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "member %s (%s): pooled connection was closed by the backend",
                    member.config->name.c_str(), member.address.c_str());
      continue;
    }
    auto idle = Clock::now() - connection->last_used;
    if (idle >= std::chrono::milliseconds(cfg.ping_after_idle_ms)) {
      std::string detail;
      if (!forward::cping(*connection, cfg.ping_timeout_ms, detail)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "member %s (%s): idle connection failed CPING: %s",
                      member.config->name.c_str(), member.address.c_str(), detail.c_str());
        continue;
      }
    }
    reused = true;
    return connection;
  }
  reused = false;
  return BackendConnection::open(member.sockaddr, member.sockaddr_len, cfg.connect_timeout_ms, error);
}

int status_for(const forward::Result& result) {
  switch (result.outcome) {
    case Outcome::Ok:
    case Outcome::ClientAborted:
      return OK;
    case Outcome::ClientBodyError:
    case Outcome::RequestTooLarge:
      return HTTP_BAD_REQUEST;
    case Outcome::ConnectFailed:
      return HTTP_SERVICE_UNAVAILABLE;
    case Outcome::BackendClosed:
      return result.request_sent ? HTTP_BAD_GATEWAY : HTTP_SERVICE_UNAVAILABLE;
    case Outcome::BackendTimeout:
      return HTTP_GATEWAY_TIME_OUT;
    case Outcome::ProtocolError:
      return HTTP_BAD_GATEWAY;
  }
  return HTTP_INTERNAL_SERVER_ERROR;
}

bool is_client_fault(Outcome o) {
  return o == Outcome::ClientAborted || o == Outcome::ClientBodyError || o == Outcome::RequestTooLarge;
}

}  // namespace

int forward_request(request_rec* r, BalancerRuntime& balancer) {
  const auto& cfg = *balancer.config;
  MappedRequest mapped;
  const char* why = nullptr;
  if (int status = map_request(r, mapped, &why); status != OK) {
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "balancer %s: refusing client request: %s", cfg.name.c_str(), why);
    return status;
  }

  forward::ExchangeOptions options;
  options.packet_size = cfg.packet_size;
  options.reply_timeout_ms = cfg.reply_timeout_ms;
  options.head_request = r->header_only != 0;
  auto* packet = static_cast<std::uint8_t*>(apr_palloc(r->pool, cfg.packet_size));
  ClientBrigade client(r);

  auto order = member_try_order(cfg, balancer.ticket.fetch_add(1, std::memory_order_relaxed));
  if (order.empty()) {
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "balancer %s: no member is active", cfg.name.c_str());
    return HTTP_SERVICE_UNAVAILABLE;
  }
  for (std::size_t index : order) {
    MemberRuntime& member = balancer.members[index];
    const char* member_name = member.config->name.c_str();
    // One extra try on a fresh connection when a pooled one turns out stale.
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool reused = false;
      std::string error;
      auto connection = acquire(r, balancer, member, reused, error);
      if (!connection) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "member %s (%s) of balancer %s: connect failed: %s", member_name,
                      member.address.c_str(), cfg.name.c_str(), error.c_str());
        break;  // nothing was sent: try the next member
      }
      mapped.ajp.secret = member.secret.empty() ? std::nullopt : std::optional<std::string_view>(member.secret);
      forward::Result result = forward::exchange(mapped.ajp, mapped.body, options,
                                                 {packet, cfg.packet_size}, *connection, client);
      if (result.outcome == Outcome::Ok) {
        if (result.reuse_connection) {
          member.pool.give_back(std::move(connection));
        }
        client.finish();
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, "member %s: %d, %s connection", member_name, result.status,
                      reused ? "pooled" : "new");
        return OK;
      }
      connection.reset();  // any failure: the connection is closed, never reused

      bool stale_pooled = reused && result.outcome == Outcome::BackendClosed && !result.response_started &&
                          !result.body_consumed && is_idempotent(r);
      if (stale_pooled && attempt == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "member %s (%s): pooled connection failed (%s), retrying on a new one",
                      member_name, member.address.c_str(), result.detail.c_str());
        continue;
      }
      int level = is_client_fault(result.outcome) ? APLOG_INFO : APLOG_ERR;
      ap_log_rerror(APLOG_MARK, level, 0, r, "member %s (%s) of balancer %s: %s: %s", member_name,
                    member.address.c_str(), cfg.name.c_str(), std::string(forward::to_string(result.outcome)).c_str(),
                    result.detail.c_str());
      if (result.response_started) {
        if (result.outcome != Outcome::ClientAborted) {
          client.abort_response();
        }
        return OK;
      }
      return status_for(result);
    }
  }
  return HTTP_SERVICE_UNAVAILABLE;
}

}  // namespace idmb::shim

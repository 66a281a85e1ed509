// request_rec -> ajp::ForwardRequest and request::ClientHead: what Tomcat learns about the
// client request, and what the core checks before forwarding it.
#pragma once

#include "httpd.h"

#include "idmb/ajp_codec.h"
#include "idmb/forwarder.h"
#include "idmb/request_env.h"
#include "idmb/request_path.h"

namespace idmb::shim {

struct BalancerRuntime;

// What the module keeps per request (its request_config slot).
struct RequestState {
  BalancerRuntime* balancer = nullptr;         // the mounted balancer (translate_name), if any
  const char* client_connection = nullptr;     // the client's Connection header, as received,
  const apr_table_t* client_listed = nullptr;  // and the fields it lists, as the client sent them
                                               // (both null unless it lists a field)
};

// This request's state, or nullptr; request_state_make creates it if there is none.
RequestState* request_state(const request_rec* r);
RequestState& request_state_make(request_rec* r);

// Remembers the fields the client's Connection header lists, before any module changes a
// header (run first in post_read_request): only those may be dropped as hop-by-hop.
void note_client_connection_fields(request_rec* r);

// The path of the request target as the client sent it (still %-encoded, without query).
std::string_view raw_target_path(const char* unparsed_uri);

// What Tomcat is to learn about the request, and what request::prepare needs to check it.
// `fr` gets every request header (prepare filters them); views point into r->pool, and
// head.client_listed into `client_listed`.
void map_request(request_rec* r, ajp::ForwardRequest& fr, request::ClientHead& head,
                 std::vector<ajp::Header>& client_listed);

// The request's environment (r->subprocess_env) for the core (request_env.h).
class SubprocessEnv final : public request::EnvLookup {
 public:
  explicit SubprocessEnv(request_rec* r) : r_(r) {}
  std::optional<std::string_view> get(std::string_view name) const override;

 private:
  request_rec* r_;
};

}  // namespace idmb::shim

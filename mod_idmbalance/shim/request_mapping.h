// request_rec -> ajp::ForwardRequest: what Tomcat learns about the client request.
#pragma once

#include "httpd.h"

#include "idmb/ajp_codec.h"
#include "idmb/forwarder.h"

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

struct MappedRequest {
  ajp::ForwardRequest ajp;
  forward::BodyPlan body;
};

// The path of the request target as the client sent it (still %-encoded, without query).
std::string_view raw_target_path(const char* unparsed_uri);

// Fills `out` from the request. Returns an HTTP status (400) and sets `why` if the client
// request cannot be forwarded safely; OK otherwise. String views point into r->pool.
int map_request(request_rec* r, MappedRequest& out, const char** why);

}  // namespace idmb::shim

// request_rec -> ajp::ForwardRequest: what Tomcat learns about the client request.
#pragma once

#include "httpd.h"

#include "idmb/ajp_codec.h"
#include "idmb/forwarder.h"

namespace idmb::shim {

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

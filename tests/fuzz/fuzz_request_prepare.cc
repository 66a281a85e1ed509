// The request path's first step (idmb/request_path.h, request::prepare), fed arbitrary heads:
//   a refusal is 400, 405 or 413 with a reason; otherwise the body plan follows the framing
//   (Transfer-Encoding "chunked" in any case -> Chunked; else a valid Content-Length > 0 ->
//   Length), the headers kept are the input's in order minus hop-by-hop ones, every
//   Content-Length and the client's own Connection-listed fields (never Host), plus exactly one
//   Content-Length equal to the plan's (or "0" for an explicit empty body; none with chunked),
//   and nothing else.
//
// Input: 0x1F-separated fields: control, method, transfer-encoding, content-length,
//   connection, then header name/value pairs.
//   control[0]: bit 0 TE present, bit 1 CL present, bit 2 TraceEnable Off, bit 3 a Connection
//   header that lists fields; control[1..2]: LimitRequestBody (0 = none); control[3]: which
//   headers the client sent as they are (bit i: pair i is in the listed set).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "idmb/http_rules.h"
#include "idmb/request_path.h"

using fuzz::show;
using namespace idmb;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Fields fields(data, size);
  fuzz::Arena arena;
  const std::string_view control = fields.next();
  const std::uint8_t flags = fuzz::Fields::byte(control, 0);
  request::ClientHead head;
  head.method = arena.keep(fields.next());
  const std::string_view te = arena.keep(fields.next());
  const std::string_view cl = arena.keep(fields.next());
  const std::string_view connection = arena.keep(fields.next());
  if (flags & 1) head.transfer_encoding = te;
  if (flags & 2) head.content_length = cl;
  head.trace_disabled = flags & 4;
  head.body_limit = fuzz::Fields::u16(control, 1);
  std::vector<ajp::Header> in;
  while (!fields.done() && in.size() < 16) {
    const std::string_view name = arena.keep(fields.next());
    in.push_back({name, arena.keep(fields.next())});
  }
  std::vector<ajp::Header> listed;
  const std::uint8_t sent_as_is = fuzz::Fields::byte(control, 3);
  for (std::size_t i = 0; i < in.size() && i < 8; ++i) {
    if (sent_as_is & (1u << i)) listed.push_back(in[i]);
  }
  if (flags & 8) {
    head.client_connection = connection;
    head.client_listed = listed;
  }

  ajp::ForwardRequest fr;
  fr.method = head.method;
  fr.uri = "/app/x";
  fr.headers = in;
  request::Prepared prepared;
  const auto refusal = request::prepare(head, fr, prepared);
  if (refusal) {
    FUZZ_CHECK(refusal->status == 400 || refusal->status == 405 || refusal->status == 413,
               std::to_string(refusal->status));
    FUZZ_CHECK(!refusal->why.empty());
    FUZZ_CHECK(refusal->status != 405 || (head.trace_disabled && head.method == "TRACE"));
    return 0;
  }
  FUZZ_CHECK(!(head.trace_disabled && head.method == "TRACE"), "TRACE went through with TraceEnable Off");
  const auto& plan = prepared.body;
  if (head.transfer_encoding) {
    FUZZ_CHECK(fuzz::iequals(*head.transfer_encoding, "chunked"), show(*head.transfer_encoding));
    FUZZ_CHECK(plan.kind == forward::BodyPlan::Kind::Chunked);
  } else if (head.content_length) {
    const auto length = http::parse_content_length(*head.content_length);
    FUZZ_CHECK(length.has_value(), show(*head.content_length));
    FUZZ_CHECK(head.body_limit == 0 || *length <= head.body_limit);
    FUZZ_CHECK((plan.kind == forward::BodyPlan::Kind::Length) == (*length > 0));
    FUZZ_CHECK(plan.kind != forward::BodyPlan::Kind::Length || plan.length == *length);
  } else {
    FUZZ_CHECK(plan.kind == forward::BodyPlan::Kind::None);
  }

  // Kept headers: a subsequence of the input, then at most one Content-Length from the plan.
  std::size_t next = 0;
  int content_lengths = 0;
  for (const auto& h : fr.headers) {
    FUZZ_CHECK(!http::is_hop_by_hop(h.name), show(h.name));
    if (http::is_content_length(h.name)) {
      ++content_lengths;
      const std::string want = plan.kind == forward::BodyPlan::Kind::Length ? std::to_string(plan.length) : "0";
      FUZZ_CHECK(h.value == want, show(h.value) + " for " + want);
      continue;
    }
    while (next < in.size() && (in[next].name.data() != h.name.data() || in[next].value.data() != h.value.data())) {
      // A header dropped on the way: hop-by-hop, a Content-Length, or the client's own listed field.
      const ajp::Header& gone = in[next];
      const bool own_listed = !head.client_connection.empty() && !fuzz::iequals(gone.name, "Host") &&
                              http::listed_in_connection(head.client_connection, gone.name);
      FUZZ_CHECK(http::is_hop_by_hop(gone.name) || http::is_content_length(gone.name) || own_listed,
                 "dropped " + show(gone.name));
      ++next;
    }
    FUZZ_CHECK(next < in.size(), "a header that was not in the input: " + show(h.name));
    ++next;
  }
  // With chunked framing Tomcat gets no Content-Length at all (the client's is dropped).
  const bool one = plan.kind == forward::BodyPlan::Kind::Length ||
                   (plan.kind == forward::BodyPlan::Kind::None && head.content_length.has_value());
  FUZZ_CHECK(content_lengths == (one ? 1 : 0), std::to_string(content_lengths));
  // Host is never dropped.
  for (const auto& h : in) {
    if (!fuzz::iequals(h.name, "Host")) continue;
    bool kept = false;
    for (const auto& k : fr.headers) kept = kept || k.name.data() == h.name.data();
    FUZZ_CHECK(kept, "Host dropped");
  }
  return 0;
}

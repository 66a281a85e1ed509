// The client side of an exchange on httpd's filter chains: the request body comes from the
// input filters (which undo chunking and enforce Content-Length), the response goes out as
// bucket brigades, so nothing is buffered whole.
#pragma once

#include <cstdint>
#include <vector>

#include "httpd.h"
#include "util_filter.h"

#include "idmb/forwarder.h"
#include "idmb/request_path.h"

namespace idmb::shim {

class ClientBrigade final : public request::Client {
 public:
  explicit ClientBrigade(request_rec* r);
  Read read_body(std::span<std::uint8_t> out) override;
  // Reads the start of the request body (up to `limit` bytes, or all of a shorter body)
  // before a member is chosen, so that a client which sends a head and then stalls, or uploads
  // slowly (IdmRequestBodyBuffer), holds no max= place and no Tomcat thread meanwhile.
  // read_body hands these bytes out first.
  forward::IoStatus prefetch_body(std::size_t limit) override;
  // Hands the prefetched bytes out again, if read_body never went past them.
  bool rewind_body() override;
  bool send_headers(const ajp::SendHeaders& headers, std::optional<std::uint64_t> content_length) override;
  // Holds the body back (up to kMaxHeld bytes) until send_pending, flush or finish, so that
  // head, body and end of a response that came in one read leave in one pass.
  bool send_body(std::span<const std::uint8_t> data) override;
  bool send_pending() override;
  bool flush() override;
  // Ends a complete response.
  void finish() override;
  // Forgets what a failed attempt recorded (status, headers, content type) while nothing had
  // reached the client yet, so a retry or an error page starts clean.
  void forget_response() override;
  // Ends a response whose headers went out but whose body broke: the client sees a truncated
  // response and the connection is closed, never a short body that looks whole.
  void abort_response() override;

 private:
  bool pass();
  // r->status_line for Tomcat's reason phrase; nullptr when httpd's own line says the same.
  const char* status_line(const ajp::SendHeaders& headers) const;
  Read read_from_filters(std::span<std::uint8_t> out);
  request_rec* r_;
  apr_bucket_brigade* out_;
  apr_bucket_brigade* in_ = nullptr;  // created on the first body read
  apr_table_t* headers_before_;       // headers_out as other modules left it before forwarding (nullptr: empty)
  static constexpr std::size_t kMaxHeld = 64 * 1024;
  std::size_t held_ = 0;  // body bytes in out_, not passed yet
  bool body_ended_ = false;
  std::vector<std::uint8_t> prefetched_;
  std::size_t prefetched_used_ = 0;
  bool read_past_prefetch_ = false;  // body bytes came from the filters: a retry cannot resend them
};

}  // namespace idmb::shim

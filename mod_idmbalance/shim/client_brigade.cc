#include "client_brigade.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "apr_buckets.h"
#include "apr_strings.h"
#include "http_protocol.h"
#include "http_request.h"

#include "idmb/http_rules.h"

namespace idmb::shim {

ClientBrigade::ClientBrigade(request_rec* r)
    : r_(r),
      out_(apr_brigade_create(r->pool, r->connection->bucket_alloc)),
      headers_before_(apr_is_empty_table(r->headers_out) ? nullptr : apr_table_copy(r->pool, r->headers_out)) {}

void ClientBrigade::forget_response() {
  r_->status = HTTP_OK;
  r_->status_line = nullptr;
  r_->content_type = nullptr;
  r_->clength = 0;
  if (headers_before_ != nullptr) {
    r_->headers_out = apr_table_copy(r_->pool, headers_before_);
  } else {
    apr_table_clear(r_->headers_out);
  }
}

forward::IoStatus ClientBrigade::prefetch_body(std::size_t limit) {
  // Grown as bytes arrive: a large IdmRequestBodyBuffer costs memory only for large bodies.
  constexpr std::size_t kStep = 64 * 1024;
  std::size_t have = 0;
  while (have < limit) {
    if (prefetched_.size() == have) {
      prefetched_.resize(have + std::min(kStep, limit - have));
    }
    Read read = read_from_filters(std::span<std::uint8_t>(prefetched_).subspan(have));
    if (read.status != forward::IoStatus::Ok) {
      prefetched_.clear();
      return read.status;
    }
    if (read.n == 0) {
      break;
    }
    have += read.n;
  }
  prefetched_.resize(have);
  return forward::IoStatus::Ok;
}

ClientBrigade::Read ClientBrigade::read_body(std::span<std::uint8_t> out) {
  if (prefetched_used_ < prefetched_.size()) {
    std::size_t n = std::min(out.size(), prefetched_.size() - prefetched_used_);
    std::copy_n(prefetched_.begin() + static_cast<std::ptrdiff_t>(prefetched_used_), n, out.begin());
    prefetched_used_ += n;
    return {forward::IoStatus::Ok, n};
  }
  Read read = read_from_filters(out);
  read_past_prefetch_ = read_past_prefetch_ || read.n > 0;
  return read;
}

bool ClientBrigade::rewind_body() {
  if (read_past_prefetch_) return false;
  prefetched_used_ = 0;
  return true;
}

ClientBrigade::Read ClientBrigade::read_from_filters(std::span<std::uint8_t> out) {
  if (in_ == nullptr) {
    in_ = apr_brigade_create(r_->pool, r_->connection->bucket_alloc);  // only requests with a body
  }
  while (!body_ended_) {
    apr_status_t rv =
        ap_get_brigade(r_->input_filters, in_, AP_MODE_READBYTES, APR_BLOCK_READ, static_cast<apr_off_t>(out.size()));
    if (rv != APR_SUCCESS) {
      apr_brigade_cleanup(in_);
      // HTTP_IN says ENOSPC when the body passes LimitRequestBody.
      return {rv == APR_ENOSPC ? forward::IoStatus::TooLarge : forward::IoStatus::Error, 0};
    }
    for (apr_bucket* b = APR_BRIGADE_FIRST(in_); b != APR_BRIGADE_SENTINEL(in_); b = APR_BUCKET_NEXT(b)) {
      if (APR_BUCKET_IS_EOS(b)) {
        body_ended_ = true;
      }
    }
    apr_size_t len = out.size();
    rv = apr_brigade_flatten(in_, reinterpret_cast<char*>(out.data()), &len);
    apr_brigade_cleanup(in_);
    if (rv != APR_SUCCESS) {
      return {forward::IoStatus::Error, 0};
    }
    if (len > 0) {
      return {forward::IoStatus::Ok, len};
    }
  }
  return {forward::IoStatus::Ok, 0};
}

const char* ClientBrigade::status_line(const ajp::SendHeaders& headers) const {
  // Tomcat sends the numeric code as its reason phrase; httpd's own phrase is better then.
  if (headers.reason.find_first_not_of("0123456789") == std::string_view::npos) {
    return nullptr;
  }
  // httpd's own phrase ("200 OK"): httpd sets that very line itself, and checks nothing.
  char code[8];
  const std::string_view digits(code,
                                static_cast<std::size_t>(std::to_chars(code, code + 8, headers.status).ptr - code));
  const std::string_view own = ap_get_status_line(headers.status);
  const std::string_view reason = headers.reason;
  if (own.size() == digits.size() + 1 + reason.size() && own.starts_with(digits) && own[digits.size()] == ' ' &&
      own.ends_with(reason)) {
    return nullptr;
  }
  // "%d %s", built at its known length (apr_psprintf measured ~500 instructions).
  char* line = static_cast<char*>(apr_palloc(r_->pool, 16 + reason.size()));
  char* end = std::to_chars(line, line + 15, headers.status).ptr;
  *end++ = ' ';
  end = std::copy(reason.begin(), reason.end(), end);
  *end = '\0';
  return line;
}

bool ClientBrigade::send_headers(const ajp::SendHeaders& headers, std::optional<std::uint64_t> content_length) {
  r_->status = headers.status;
  if (content_length) {
    ap_set_content_length(r_, static_cast<apr_off_t>(*content_length));
  }
  if (const char* line = status_line(headers)) {
    r_->status_line = line;
  }
  for (const auto& h : headers.headers) {
    if (http::drop_from_response(h.name)) {
      continue;
    }
    const char* value = apr_pstrmemdup(r_->pool, h.value.data(), h.value.size());
    if (h.name.size() == 12 && ap_cstr_casecmpn(h.name.data(), "Content-Type", 12) == 0) {
      ap_set_content_type(r_, value);
      continue;
    }
    apr_table_addn(r_->headers_out, apr_pstrmemdup(r_->pool, h.name.data(), h.name.size()), value);
  }
  return !r_->connection->aborted;
}

bool ClientBrigade::send_body(std::span<const std::uint8_t> data) {
  // Copied: the packet buffer is overwritten by the next read from Tomcat.
  apr_bucket* b = apr_bucket_heap_create(reinterpret_cast<const char*>(data.data()), data.size(), nullptr,
                                         r_->connection->bucket_alloc);
  APR_BRIGADE_INSERT_TAIL(out_, b);
  held_ += data.size();
  return held_ < kMaxHeld ? !r_->connection->aborted : pass();
}

bool ClientBrigade::send_pending() { return held_ == 0 || pass(); }

bool ClientBrigade::flush() {
  APR_BRIGADE_INSERT_TAIL(out_, apr_bucket_flush_create(r_->connection->bucket_alloc));
  return pass();
}

void ClientBrigade::finish() {
  APR_BRIGADE_INSERT_TAIL(out_, apr_bucket_eos_create(r_->connection->bucket_alloc));
  pass();
}

void ClientBrigade::abort_response() {
  // Held body bytes go first, with the headers: an error bucket ahead of them would turn the
  // response into an error page instead of the truncated response it must be.
  send_pending();
  r_->connection->keepalive = AP_CONN_CLOSE;
  APR_BRIGADE_INSERT_TAIL(out_,
                          ap_bucket_error_create(HTTP_BAD_GATEWAY, nullptr, r_->pool, r_->connection->bucket_alloc));
  APR_BRIGADE_INSERT_TAIL(out_, apr_bucket_eos_create(r_->connection->bucket_alloc));
  pass();
}

bool ClientBrigade::pass() {
  apr_status_t rv = ap_pass_brigade(r_->output_filters, out_);
  apr_brigade_cleanup(out_);
  held_ = 0;
  return rv == APR_SUCCESS && !r_->connection->aborted;
}

}  // namespace idmb::shim

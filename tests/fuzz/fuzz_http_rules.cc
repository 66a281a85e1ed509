// HTTP framing rules (idmb/http_rules.h).
//   parse_content_length: accepts exactly the non-empty all-digit strings whose value fits
//     64 bits; the value round-trips (to_string equals the text without leading zeros).
//   is_hop_by_hop, is_content_length, drop_from_response: equal to their lists.
//   listed_in_connection, connection_lists_fields: equal to a reference tokenizer; splitting
//     a Connection value at a comma is an "or"; the name's case does not matter.
//   drop_listed_field: never without as_client_sent, never Host, only a listed field.
//
// Input: 0x1F-separated fields: text, name, connection, other.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "idmb/http_rules.h"

using fuzz::Owned;
using fuzz::show;
using namespace idmb::http;

namespace {

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Comma-separated tokens, OWS trimmed (empty ones kept).
template <class F>
void for_each_token(std::string_view value, F&& f) {
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = value.find(',', start);
    f(trim_ows(value.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
    if (comma == std::string_view::npos) return;
    start = comma + 1;
  }
}

bool ref_listed(std::string_view value, std::string_view name) {
  const std::string_view wanted = trim_ows(name);
  if (wanted.empty()) return false;
  bool found = false;
  for_each_token(value, [&](std::string_view t) { found = found || fuzz::iequals(t, wanted); });
  return found;
}

bool ref_lists_fields(std::string_view value) {
  bool found = false;
  for_each_token(value, [&](std::string_view t) {
    found = found || (!t.empty() && !fuzz::iequals(t, "close") && !fuzz::iequals(t, "keep-alive"));
  });
  return found;
}

bool ref_hop_by_hop(std::string_view name) {
  for (std::string_view h :
       {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}) {
    if (fuzz::iequals(name, h)) return true;
  }
  return false;
}

void check_content_length(std::string_view text) {
  const Owned t(text);
  const auto got = parse_content_length(t.view());
  bool digits = !text.empty();
  for (char c : text) digits = digits && c >= '0' && c <= '9';
  // The value without leading zeros; it fits 64 bits iff it is shorter than 20 digits, or
  // 20 digits not above 18446744073709551615.
  std::string_view significant = text;
  while (significant.size() > 1 && significant.front() == '0') significant.remove_prefix(1);
  const bool fits = significant.size() < 20 || (significant.size() == 20 && significant <= "18446744073709551615");
  FUZZ_CHECK(got.has_value() == (digits && fits), show(text));
  if (got) FUZZ_CHECK(std::to_string(*got) == significant, show(text) + " -> " + std::to_string(*got));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Fields fields(data, size);
  const Owned text(fields.next());
  const Owned name(fields.next());
  const Owned conn(fields.next());
  const Owned other(fields.next());

  check_content_length(text.view());
  check_content_length(name.view());

  for (const Owned* n : {&name, &text}) {
    const std::string_view v = n->view();
    FUZZ_CHECK(is_hop_by_hop(v) == ref_hop_by_hop(v), show(v));
    FUZZ_CHECK(is_content_length(v) == fuzz::iequals(v, "content-length"), show(v));
    FUZZ_CHECK(drop_from_response(v) == (ref_hop_by_hop(v) || fuzz::iequals(v, "content-length")), show(v));
  }

  const bool listed = listed_in_connection(conn.view(), name.view());
  FUZZ_CHECK(listed == ref_listed(conn.view(), name.view()), show(conn.view()) + " / " + show(name.view()));
  FUZZ_CHECK(listed == listed_in_connection(conn.view(), fuzz::upper(name.view())), "case of the name matters");
  FUZZ_CHECK(listed == listed_in_connection(fuzz::lower(conn.view()), name.view()), "case of the value matters");
  const bool lists = connection_lists_fields(conn.view());
  FUZZ_CHECK(lists == ref_lists_fields(conn.view()), show(conn.view()));

  // "a, b" lists what a or b lists.
  const std::string joined = std::string(conn.view()) + "," + std::string(other.view());
  FUZZ_CHECK(listed_in_connection(joined, name.view()) == (listed || listed_in_connection(other.view(), name.view())),
             show(joined) + " / " + show(name.view()));
  FUZZ_CHECK(connection_lists_fields(joined) == (lists || connection_lists_fields(other.view())), show(joined));
  // Whatever names a listed field also lists fields.
  if (listed && !fuzz::iequals(trim_ows(name.view()), "close") && !fuzz::iequals(trim_ows(name.view()), "keep-alive")) {
    FUZZ_CHECK(lists, show(conn.view()) + " lists " + show(name.view()) + " but connection_lists_fields is false");
  }

  for (bool as_sent : {false, true}) {
    const bool drop = drop_listed_field(conn.view(), name.view(), as_sent);
    FUZZ_CHECK(drop == (as_sent && !fuzz::iequals(name.view(), "host") && listed),
               show(conn.view()) + " / " + show(name.view()));
    FUZZ_CHECK(!drop_listed_field(conn.view(), "Host", as_sent) && !drop_listed_field(conn.view(), "hOST", as_sent),
               "Host dropped");
  }
  return 0;
}

// Tomcat's side of AJP: decode_packet_header, decode_message (HeadCheck::Strict and
// LayoutOnly) and check_response_head, against a reference decoder written here from the
// wire format (AJP13_AND_PROXY.md part 2), not from the core's code.
//
// Input: byte 0 chooses the mode (low 2 bits) and the packet size (bits 2..4).
//   mode 0, 1  a stream of packets as read from a connection: 4-byte header, payload, ...
//   mode 2     the rest is one payload (after the header), for decode_message alone
//   mode 3     a SEND_HEADERS built from fields (0x1F-separated: control (status u16), reason,
//              then name/value pairs) for check_response_head, encoded and decoded again
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "fuzz_support.h"
#include "idmb/ajp_codec.h"

using namespace idmb::ajp;
using fuzz::Owned;
using fuzz::show;

namespace {

constexpr std::array<std::size_t, 8> kPacketSizes = {8192, 8192, 65536, 16384, 4, 5, 0, 12};

// SEND_HEADERS response header codes 0xA001..0xA00B (AJP13 section 2.7).
constexpr std::array<std::string_view, 11> kResponseHeaderNames = {
    "Content-Type", "Content-Language", "Content-Length", "Date",   "Last-Modified",    "Location",
    "Set-Cookie",   "Set-Cookie2",      "Servlet-Engine", "Status", "WWW-Authenticate",
};

std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }

bool has_crlf_nul(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

// ---- reference decoder -------------------------------------------------------------------

struct RefHeader {
  std::string_view name;  // literal: a view into the payload; coded: the canonical name
  bool coded = false;
  std::string_view value;  // a view into the payload, or {} (null)
};
struct RefHead {
  std::uint16_t status = 0;
  std::string_view reason;
  std::vector<RefHeader> headers;
};
struct RefMessage {
  std::uint8_t type = 0;
  RefHead head;                         // type 4
  std::span<const std::uint8_t> chunk;  // type 3
  bool reuse = false;                   // type 5
  std::uint16_t requested = 0;          // type 6
};

class Cursor {
 public:
  explicit Cursor(std::span<const std::uint8_t> p, std::size_t pos) : p_(p), pos_(pos) {}
  bool u16(std::uint16_t& v) {
    if (p_.size() - pos_ < 2) return false;
    v = be16(p_.data() + pos_);
    pos_ += 2;
    return true;
  }
  // len(2) bytes NUL, or 0xFFFF = null.
  bool string(std::string_view& s) {
    std::uint16_t len;
    if (!u16(len)) return false;
    if (len == 0xFFFF) {
      s = {};
      return true;
    }
    if (p_.size() - pos_ < std::size_t{len} + 1) return false;
    if (p_[pos_ + len] != 0) return false;
    s = std::string_view(reinterpret_cast<const char*>(p_.data() + pos_), len);
    pos_ += std::size_t{len} + 1;
    return true;
  }
  bool at_code() const { return p_.size() - pos_ >= 2 && p_[pos_] == 0xA0; }
  std::uint8_t peek(std::size_t i) const { return p_[pos_ + i]; }
  void skip(std::size_t n) { pos_ += n; }
  bool at_end() const { return pos_ == p_.size(); }

 private:
  std::span<const std::uint8_t> p_;
  std::size_t pos_;
};

// The layout alone (HeadCheck::LayoutOnly).
std::optional<RefMessage> reference_decode(std::span<const std::uint8_t> p) {
  if (p.empty()) return std::nullopt;
  RefMessage m;
  m.type = p[0];
  switch (p[0]) {
    case 3: {
      if (p.size() < 4) return std::nullopt;
      if (be16(p.data() + 1) != p.size() - 4 || p.back() != 0) return std::nullopt;
      m.chunk = p.subspan(3, p.size() - 4);
      return m;
    }
    case 4: {
      Cursor c(p, 1);
      std::uint16_t count;
      if (!c.u16(m.head.status) || !c.string(m.head.reason) || !c.u16(count)) return std::nullopt;
      for (std::uint32_t i = 0; i < count; ++i) {
        RefHeader h;
        if (c.at_code()) {
          const std::uint8_t low = c.peek(1);
          if (low < 1 || low > kResponseHeaderNames.size()) return std::nullopt;
          h.name = kResponseHeaderNames[low - 1];
          h.coded = true;
          c.skip(2);
        } else if (!c.string(h.name)) {
          return std::nullopt;
        }
        if (!c.string(h.value)) return std::nullopt;
        m.head.headers.push_back(h);
      }
      if (!c.at_end()) return std::nullopt;
      return m;
    }
    case 5:
      if (p.size() != 2) return std::nullopt;
      m.reuse = p[1] == 1;
      return m;
    case 6:
      if (p.size() != 3) return std::nullopt;
      m.requested = be16(p.data() + 1);
      return m;
    case 9:
      if (p.size() != 1) return std::nullopt;
      return m;
    default: return std::nullopt;
  }
}

// The response head rules, as check_response_head documents them.
bool reference_head_ok(std::uint16_t status, std::string_view reason, const std::vector<Header>& headers) {
  if (status < 100 || status > 999 || has_crlf_nul(reason)) return false;
  for (const Header& h : headers) {
    if (h.name.empty() || has_crlf_nul(h.name) || has_crlf_nul(h.value)) return false;
  }
  return true;
}

bool same_view(std::string_view a, std::string_view b) { return a.data() == b.data() && a.size() == b.size(); }

// `got` (a decoded message) is exactly what the reference decoder read from `payload`.
void check_same(const Message& got, const RefMessage& ref, const Owned& payload) {
  switch (ref.type) {
    case 3: {
      const auto* c = std::get_if<BodyChunk>(&got);
      FUZZ_CHECK(c != nullptr, "type 3 decoded as another message");
      FUZZ_CHECK(c->data.data() == ref.chunk.data() && c->data.size() == ref.chunk.size());
      FUZZ_CHECK(c->data.size() + 4 == payload.size());
      break;
    }
    case 4: {
      const auto* h = std::get_if<SendHeaders>(&got);
      FUZZ_CHECK(h != nullptr, "type 4 decoded as another message");
      FUZZ_CHECK(h->status == ref.head.status);
      FUZZ_CHECK(same_view(h->reason, ref.head.reason), "reason " + show(h->reason) + " vs " + show(ref.head.reason));
      FUZZ_CHECK(payload.contains(h->reason));
      FUZZ_CHECK(h->headers.size() == ref.head.headers.size());
      for (std::size_t i = 0; i < h->headers.size(); ++i) {
        const Header& g = h->headers[i];
        const RefHeader& r = ref.head.headers[i];
        if (r.coded) {
          FUZZ_CHECK(g.name == r.name, "coded name " + show(g.name) + " vs " + show(r.name));
        } else {
          FUZZ_CHECK(same_view(g.name, r.name), "literal name " + show(g.name) + " vs " + show(r.name));
          FUZZ_CHECK(payload.contains(g.name));
        }
        FUZZ_CHECK(same_view(g.value, r.value), "value " + show(g.value) + " vs " + show(r.value));
        FUZZ_CHECK(payload.contains(g.value));
      }
      break;
    }
    case 5: {
      const auto* e = std::get_if<EndResponse>(&got);
      FUZZ_CHECK(e != nullptr && e->reuse == ref.reuse && payload.size() == 2);
      break;
    }
    case 6: {
      const auto* g = std::get_if<GetBodyChunk>(&got);
      FUZZ_CHECK(g != nullptr && g->requested == ref.requested && payload.size() == 3);
      break;
    }
    case 9: FUZZ_CHECK(std::holds_alternative<Cpong>(got) && payload.size() == 1); break;
    default: FUZZ_CHECK(false, "reference accepted type " + std::to_string(ref.type));
  }
}

void check_payload(std::string_view bytes) {
  const Owned payload(bytes);  // exact size: ASan catches a read past the payload
  const std::span<const std::uint8_t> span(payload.bytes(), payload.size());

  const auto layout = decode_message(span, HeadCheck::LayoutOnly);
  const auto strict = decode_message(span, HeadCheck::Strict);
  const auto ref = reference_decode(span);

  FUZZ_CHECK(layout.ok() == ref.has_value(),
             std::string(layout.ok() ? "decoder accepted" : "decoder refused (" + layout.error() + ")") +
                 " a payload the reference " + (ref ? "accepts" : "refuses") + ": " + show(bytes));
  if (!layout.ok()) {
    FUZZ_CHECK(!layout.error().empty());
    // A layout error comes first whatever the check: Strict says the same.
    FUZZ_CHECK(!strict.ok() && strict.error() == layout.error(),
               "Strict: " + (strict.ok() ? std::string("ok") : strict.error()));
    return;
  }
  check_same(*layout, *ref, payload);

  const auto* head = std::get_if<SendHeaders>(&*layout);
  if (head == nullptr) {
    FUZZ_CHECK(strict.ok(), "Strict refused a non-SEND_HEADERS message LayoutOnly accepts: " + strict.error());
    check_same(*strict, *ref, payload);
    return;
  }
  const auto rules = check_response_head(*head);
  const bool expected = reference_head_ok(head->status, head->reason, head->headers);
  FUZZ_CHECK(rules.ok() == expected, "check_response_head " + std::string(rules.ok() ? "accepted" : "refused") +
                                         " status " + std::to_string(head->status));
  FUZZ_CHECK(strict.ok() == rules.ok(), "Strict and LayoutOnly+check_response_head disagree");
  if (!strict.ok()) {
    FUZZ_CHECK(strict.error() == rules.error(), strict.error() + " vs " + rules.error());
    return;
  }
  check_same(*strict, *ref, payload);
  // What Strict lets through is safe to write out as an HTTP head.
  const auto& h = std::get<SendHeaders>(*strict);
  FUZZ_CHECK(h.status >= 100 && h.status <= 999);
  FUZZ_CHECK(!has_crlf_nul(h.reason));
  for (const Header& hd : h.headers) {
    FUZZ_CHECK(!hd.name.empty() && !has_crlf_nul(hd.name) && !has_crlf_nul(hd.value));
  }
}

void check_header(std::string_view bytes, std::size_t packet_size) {
  const Owned header(bytes);
  const auto got = decode_packet_header(std::span(header.bytes(), header.size()), packet_size);
  std::optional<std::uint16_t> want;
  if (bytes.size() >= 4 && header.bytes()[0] == 0x41 && header.bytes()[1] == 0x42) {
    const std::uint16_t len = be16(header.bytes() + 2);
    if (len != 0 && packet_size >= 4 && len <= packet_size - 4) want = len;
  }
  FUZZ_CHECK(got.ok() == want.has_value(), "header " + show(bytes) + " packet size " + std::to_string(packet_size));
  if (got.ok()) {
    FUZZ_CHECK(*got == *want);
    FUZZ_CHECK(*got >= 1 && *got + kHeaderSize <= packet_size);
  } else {
    FUZZ_CHECK(!got.error().empty());
  }
}

// Mode 3: a head from fields, checked by check_response_head, then put on the wire (as Tomcat
// would, literal names) and decoded with Strict: both must agree and give the head back.
void check_built_head(const std::uint8_t* data, std::size_t size) {
  fuzz::Fields fields(data, size);
  const std::string_view control = fields.next();
  fuzz::Arena arena;
  SendHeaders head;
  head.status = fuzz::Fields::u16(control, 0);
  const bool null_reason = fuzz::Fields::byte(control, 2) & 1;
  head.reason = arena.keep(fields.next());
  while (!fields.done() && head.headers.size() < 200) {
    const std::string_view name = arena.keep(fields.next());
    const std::string_view value = arena.keep(fields.next());
    head.headers.push_back(Header{name, value});
  }
  // The wire form below writes literal names: one of 0xA000 bytes or more would read as a code.
  if (head.reason.size() >= 0xA000) return;
  for (const Header& h : head.headers) {
    if (h.name.size() >= 0xA000 || h.value.size() >= 0xA000) return;
  }
  const bool expected = reference_head_ok(head.status, head.reason, head.headers);
  const auto rules = check_response_head(head);
  FUZZ_CHECK(rules.ok() == expected, "check_response_head " + std::string(rules.ok() ? "accepted" : "refused") +
                                         " status " + std::to_string(head.status) + " reason " + show(head.reason));
  if (!rules.ok()) FUZZ_CHECK(!rules.error().empty());

  std::string wire;
  auto put16 = [&](std::size_t v) {
    wire.push_back(static_cast<char>(v >> 8));
    wire.push_back(static_cast<char>(v & 0xFF));
  };
  auto put_string = [&](std::string_view s) {
    put16(s.size());
    wire.append(s);
    wire.push_back('\0');
  };
  wire.push_back('\x04');
  put16(head.status);
  if (null_reason && head.reason.empty()) {
    put16(0xFFFF);
  } else {
    put_string(head.reason);
  }
  put16(head.headers.size());
  for (const Header& h : head.headers) {
    put_string(h.name);
    put_string(h.value);
  }
  const Owned payload(wire);
  const auto decoded = decode_message(std::span(payload.bytes(), payload.size()), HeadCheck::Strict);
  FUZZ_CHECK(decoded.ok() == rules.ok(), "wire form: " + (decoded.ok() ? std::string("ok") : decoded.error()));
  if (decoded.ok()) {
    const auto& d = std::get<SendHeaders>(*decoded);
    FUZZ_CHECK(d.status == head.status && d.reason == head.reason && d.headers.size() == head.headers.size());
    for (std::size_t i = 0; i < d.headers.size(); ++i) {
      FUZZ_CHECK(d.headers[i].name == head.headers[i].name && d.headers[i].value == head.headers[i].value);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t config = data[0];
  const std::size_t packet_size = kPacketSizes[(config >> 2) & 7];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);

  switch (config & 3) {
    case 0:
    case 1:
      // A connection's packets, in order; a refused header ends the exchange.
      for (int packets = 0; packets < 64 && !rest.empty(); ++packets) {
        const std::string_view header = rest.substr(0, kHeaderSize);
        rest.remove_prefix(header.size());
        check_header(header, packet_size);
        const auto len = decode_packet_header(
            std::span(reinterpret_cast<const std::uint8_t*>(header.data()), header.size()), packet_size);
        if (!len.ok()) break;
        const std::string_view payload = rest.substr(0, *len);
        rest.remove_prefix(payload.size());
        check_payload(payload);
      }
      break;
    case 2: check_payload(rest); break;
    case 3: check_built_head(data + 1, size - 1); break;
  }
  return 0;
}

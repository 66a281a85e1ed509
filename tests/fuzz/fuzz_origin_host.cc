// The manager's CSRF and DNS-rebinding checks (idmb/control.h): same_origin and
// host_names_server, against references written from the header's contract, plus:
//   same_origin: an empty header passes; anything after the authority ("/...") does not
//     matter; ASCII case does not matter; an origin built from a host and port passes exactly
//     when that host (case-insensitively) and port (a missing one being the scheme's default)
//     are the Host header's.
//   host_names_server: no Host passes; the port does not matter; a name passes only if it is
//     the ServerName, an alias, the local address, or localhost on a loopback connection.
//
// Input: 0x1F-separated fields: control, header, host, extra.
//   control[0] bit 0: also build an origin from parts (host and extra mapped to a host-name
//   alphabet; control[2..5] the ports, control[6] the scheme, control[7] bit 0 the same host
//   in the Host header, bit 1 a path, bit 2 credentials). control[1]: the local address.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "idmb/control.h"

using fuzz::Owned;
using fuzz::show;
using namespace idmb::status;

namespace {

struct Authority {
  std::string_view host;
  std::string_view port;
};

std::optional<Authority> ref_split(std::string_view a) {
  if (a.empty()) return std::nullopt;
  Authority out;
  if (a[0] == '[') {
    const std::size_t close = a.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = a.substr(0, close + 1);
    const std::string_view rest = a.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return std::nullopt;
      out.port = rest.substr(1);
    }
  } else {
    const std::size_t colon = a.find(':');
    out.host = a.substr(0, colon);
    if (colon != std::string_view::npos) out.port = a.substr(colon + 1);
  }
  if (out.host.empty()) return std::nullopt;
  for (char c : out.port) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return out;
}

bool ref_same_origin(std::string_view header, std::string_view host) {
  if (header.empty()) return true;
  const std::size_t sep = header.find("://");
  if (sep == std::string_view::npos || sep == 0) return false;
  const std::string scheme = fuzz::lower(header.substr(0, sep));
  std::string_view authority = header.substr(sep + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) authority = authority.substr(at + 1);
  const auto theirs = ref_split(authority);
  const auto ours = ref_split(host);
  if (!theirs || !ours || !fuzz::iequals(theirs->host, ours->host)) return false;
  if (theirs->port.empty() && ours->port.empty()) return true;
  // Ports compare as numbers (080 is 80); a missing one is the scheme's default.
  const std::string_view def = scheme == "http" ? "80" : scheme == "https" ? "443" : "";
  const auto number = [def](std::string_view port) -> std::optional<unsigned long> {
    if (port.empty()) port = def;
    if (port.empty()) return std::nullopt;
    unsigned long v = 0;
    for (char c : port) {
      v = v * 10 + static_cast<unsigned long>(c - '0');
      if (v > 65535) return std::nullopt;
    }
    return v;
  };
  const auto a = number(theirs->port);
  const auto b = number(ours->port);
  return a && b && *a == *b;
}

constexpr std::array<std::string_view, 6> kLocal = {"192.0.2.10",  "127.0.0.1",        "::1",
                                                    "2001:db8::1", "::ffff:127.0.0.1", "10.1.2.3"};
const std::vector<std::string_view> kAliases = {"idm", "*.idm.example.org", "App?.Example.NET"};
constexpr std::string_view kServerName = "idm.example.org";

bool ref_loopback(std::string_view ip) {
  return ip.substr(0, 4) == "127." || ip == "::1" || ip.substr(0, 11) == "::ffff:127.";
}

bool ref_host_names_server(std::string_view host_header, std::string_view local) {
  if (host_header.empty()) return true;
  const auto a = ref_split(host_header);
  if (!a) return false;
  std::string_view host = a->host;
  if (host.size() > 2 && host[0] == '[') host = host.substr(1, host.size() - 2);
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (fuzz::iequals(host, kServerName) || fuzz::iequals(host, local)) return true;
  if (fuzz::iequals(host, "localhost")) return ref_loopback(local);
  for (std::string_view alias : kAliases) {
    if (fuzz::reference_glob(fuzz::lower(alias), fuzz::lower(host))) return true;
  }
  return false;
}

// Bytes mapped onto a host-name alphabet (letters of both cases, digits, '.', '-').
std::string host_name(std::string_view s) {
  static constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-";
  std::string out;
  for (char c : s.substr(0, 64)) out += kAlphabet[static_cast<unsigned char>(c) % kAlphabet.size()];
  return out.empty() ? "h" : out;
}

// Origins built from parts: true exactly for the same host and the same effective port.
void check_built(std::string_view control, std::string_view a, std::string_view b) {
  constexpr std::array<std::string_view, 5> kSchemes = {"http", "https", "HTTPS", "ftp", "Http"};
  const std::string_view scheme = kSchemes[fuzz::Fields::byte(control, 6) % kSchemes.size()];
  const std::string host_a = host_name(a);
  // The Host header names the same host (in another case) or another one.
  const bool same_host = fuzz::Fields::byte(control, 7) & 1;
  const std::string host_b = same_host ? fuzz::upper(host_a) : host_name(b);
  const auto port = [&](std::size_t i) -> std::optional<std::uint16_t> {
    const std::uint16_t p = fuzz::Fields::u16(control, i);
    if (p == 0) return std::nullopt;
    // Favour the default ports.
    if (p % 4 == 1) return 80;
    if (p % 4 == 2) return 443;
    return p;
  };
  const auto origin_port = port(2);
  const auto host_port = port(4);
  std::string origin = std::string(scheme) + "://";
  // Credentials before the host (a Referer may carry them): the host follows the last '@'.
  if (fuzz::Fields::byte(control, 7) & 4) {
    static constexpr std::string_view kUserinfo = "ab:@%.-AB09";
    for (char c : b.substr(0, 16)) origin += kUserinfo[static_cast<unsigned char>(c) % kUserinfo.size()];
    origin += '@';
  }
  origin += host_a;
  if (origin_port) origin += ":" + std::to_string(*origin_port);
  if (fuzz::Fields::byte(control, 7) & 2) origin += "/balancer-manager?x=1";
  std::string host = host_b;
  if (host_port) host += ":" + std::to_string(*host_port);

  const std::string s = fuzz::lower(scheme);
  const std::optional<std::uint16_t> def = s == "http"    ? std::optional<std::uint16_t>(80)
                                           : s == "https" ? std::optional<std::uint16_t>(443)
                                                          : std::nullopt;
  const auto effective = [&](std::optional<std::uint16_t> p) { return p ? p : def; };
  const bool same_port = origin_port == host_port || (def && effective(origin_port) == effective(host_port));
  const bool want = fuzz::iequals(host_a, host_b) && same_port;
  FUZZ_CHECK(same_origin(origin, host) == want, show(origin) + " vs Host " + show(host));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Fields fields(data, size);
  const std::string_view control = fields.next();
  const Owned header(fields.next());
  const Owned host(fields.next());
  const Owned extra(fields.next());

  // same_origin
  const bool same = same_origin(header.view(), host.view());
  FUZZ_CHECK(same == ref_same_origin(header.view(), host.view()),
             show(header.view()) + " vs Host " + show(host.view()));
  FUZZ_CHECK(same_origin("", host.view()), "an absent Origin/Referer must pass");
  if (!header.view().empty() && same) FUZZ_CHECK(!host.view().empty(), "no Host, yet same origin");
  FUZZ_CHECK(same_origin(fuzz::upper(header.view()), fuzz::upper(host.view())) == same, "case matters");
  if (header.view().find("://") != std::string_view::npos) {
    const std::string longer = std::string(header.view()) + "/" + std::string(extra.view());
    FUZZ_CHECK(same_origin(longer, host.view()) == same, "the path changed the answer: " + show(longer));
  }
  if (fuzz::Fields::byte(control, 0) & 1) check_built(control, host.view(), extra.view());

  // host_names_server
  const std::string_view local = kLocal[fuzz::Fields::byte(control, 1) % kLocal.size()];
  const ServerNames names{kServerName, kAliases, local};
  const bool named = host_names_server(host.view(), names);
  FUZZ_CHECK(named == ref_host_names_server(host.view(), local), show(host.view()) + " on " + std::string(local));
  FUZZ_CHECK(host_names_server("", names));
  const std::string_view h = host.view();
  if (!h.empty() && h[0] != '[' && h.find(':') == std::string_view::npos) {
    const std::string with_port = std::string(h) + ":" + std::to_string(size);
    FUZZ_CHECK(host_names_server(with_port, names) == named, "the port changed the answer: " + show(with_port));
  }
  // Whatever passes (but an absent Host) has a well-formed authority.
  if (named && !h.empty()) {
    const auto a = ref_split(h);
    FUZZ_CHECK(a.has_value(), "accepted an unparsable Host " + show(h));
  }
  return 0;
}

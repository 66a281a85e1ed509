// The manager's form and command parsers (idmb/control.h): parse_form and parse_command
// against references written from the header's contract; a parsed form re-encoded and parsed
// again gives the same fields; every error message is printable ASCII (it reaches the log and
// the page).
//
// Input: byte 0 bits 0, 1: '+' or %20 for spaces when re-encoding keys, values. Bit 7: the
// rest is repeated to kMaxFormBytes - 8 + (bits 0..5) bytes, around the size limit; otherwise
// the rest is the body as is.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz_support.h"
#include "idmb/control.h"

using fuzz::Owned;
using fuzz::show;
using namespace idmb::status;

namespace {

using Items = std::vector<std::pair<std::string, std::string>>;

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> ref_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex(s[i + 1]);
      const int lo = hex(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  if (out.find('\0') != std::string::npos) return std::nullopt;
  return out;
}

std::optional<Items> ref_parse_form(std::string_view body) {
  if (body.size() > kMaxFormBytes) return std::nullopt;
  Items items;
  std::size_t start = 0;
  while (start <= body.size()) {
    std::size_t amp = body.find('&', start);
    if (amp == std::string_view::npos) amp = body.size();
    const std::string_view part = body.substr(start, amp - start);
    start = amp + 1;
    if (part.empty()) continue;
    const std::size_t eq = part.find('=');
    auto key = ref_decode(part.substr(0, eq));
    auto value = ref_decode(eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1));
    if (!key || !value || key->empty()) return std::nullopt;
    for (const auto& [k, v] : items) {
      if (k == *key) return std::nullopt;
    }
    items.emplace_back(std::move(*key), std::move(*value));
    if (items.size() > kMaxFormFields) return std::nullopt;
  }
  return items;
}

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    const bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::uint32_t> ref_factor(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
    if (v > 100000) return std::nullopt;
  }
  if (v < 1) return std::nullopt;
  return static_cast<std::uint32_t>(v);
}

std::optional<Command> ref_parse_command(const Items& items) {
  Command c;
  for (const auto& [k, v] : items) {
    if (k == "nonce") {
      c.nonce = v;
    } else if (k == "balancer") {
      if (!valid_name(v)) return std::nullopt;
      c.balancer = v;
    } else if (k == "member") {
      if (!v.empty() && !valid_name(v)) return std::nullopt;
      c.member = v;
    } else if (k == "action") {
      const std::pair<const char*, Action> actions[] = {{"activate", Action::Activate}, {"disable", Action::Disable},
                                                        {"stop", Action::Stop},         {"standby", Action::Standby},
                                                        {"reset", Action::Reset},       {"recover", Action::Recover}};
      for (const auto& [name, a] : actions) {
        if (v == name) c.action = a;
      }
      if (!c.action) return std::nullopt;
    } else if (k == "factor") {
      c.factor = ref_factor(v);
      if (!c.factor) return std::nullopt;
    } else if (k == "method") {
      using M = idmb::config::Method;
      if (v == "requests") c.method = M::Requests;
      if (v == "traffic") c.method = M::Traffic;
      if (v == "busyness") c.method = M::Busyness;
      if (v == "p2c") c.method = M::P2C;
      if (!c.method) return std::nullopt;
    } else if (k == "sticky_force") {
      if (v == "on" || v == "1" || v == "true") c.sticky_force = true;
      if (v == "off" || v == "0" || v == "false") c.sticky_force = false;
      if (!c.sticky_force) return std::nullopt;
    } else {
      return std::nullopt;
    }
  }
  if (c.balancer.empty()) return std::nullopt;
  if ((c.action || c.factor) && c.member.empty()) return std::nullopt;
  if (!c.action && !c.factor && !c.method && !c.sticky_force) return std::nullopt;
  return c;
}

bool printable(std::string_view s) {
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b >= 0x7F) return false;
  }
  return true;
}

// Every byte but [A-Za-z0-9] as %XX; the fuzz byte picks '+' or %20 for spaces.
std::string encode(std::string_view s, bool plus) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      out += c;
    } else if (c == ' ' && plus) {
      out += '+';
    } else {
      out += '%';
      out += digits[b >> 4];
      out += digits[b & 15];
    }
  }
  return out;
}

std::string show_items(const Items& items) {
  std::string out;
  for (const auto& [k, v] : items) out += show(k) + "=" + show(v) + " ";
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  if ((data[0] & 0x80) && !body.empty()) {
    const std::size_t target = kMaxFormBytes - 8 + (data[0] & 0x3F);
    std::string big;
    while (big.size() < target) big += body;
    big.resize(target);
    body = std::move(big);
  }
  const Owned b(body);
  const auto form = parse_form(b.view());
  const auto ref = ref_parse_form(b.view());
  FUZZ_CHECK(form.ok() == ref.has_value(),
             std::string(form.ok() ? "accepted" : "refused (" + form.error() + ")") + ": " + show(body));
  if (!form.ok()) {
    FUZZ_CHECK(!form.error().empty() && printable(form.error()), show(form.error()));
    return 0;
  }
  FUZZ_CHECK(form->items == *ref, show_items(form->items) + " vs " + show_items(*ref));
  FUZZ_CHECK(form->items.size() <= kMaxFormFields);
  for (const auto& [k, v] : form->items) {
    FUZZ_CHECK(form->find(k) != nullptr && *form->find(k) == v);
  }

  // Re-encoded, the fields parse back as they are.
  std::string again;
  for (const auto& [k, v] : form->items) {
    if (!again.empty()) again += '&';
    again += encode(k, data[0] & 1) + "=" + encode(v, data[0] & 2);
  }
  if (again.size() <= kMaxFormBytes) {
    const auto reparsed = parse_form(again);
    FUZZ_CHECK(reparsed.ok() && reparsed->items == form->items, "re-encoded form " + show(again));
  }

  const auto cmd = parse_command(*form);
  const auto want = ref_parse_command(form->items);
  FUZZ_CHECK(cmd.ok() == want.has_value(),
             std::string(cmd.ok() ? "command accepted" : "command refused (" + cmd.error() + ")") + ": " +
                 show_items(form->items));
  if (!cmd.ok()) {
    FUZZ_CHECK(!cmd.error().empty() && printable(cmd.error()), show(cmd.error()));
    return 0;
  }
  FUZZ_CHECK(cmd->nonce == want->nonce && cmd->balancer == want->balancer && cmd->member == want->member);
  FUZZ_CHECK(cmd->action == want->action && cmd->factor == want->factor && cmd->method == want->method &&
             cmd->sticky_force == want->sticky_force);
  FUZZ_CHECK(!cmd->factor || (*cmd->factor >= 1 && *cmd->factor <= 100000));
  return 0;
}

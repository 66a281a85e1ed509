// workers.properties syntax as mod_jk's jk_map reads it (jk_properties.h).
#include "idmb/jk_properties.h"

#include <string>

#include "../util/ascii.h"
#include "../util/text.h"

namespace idmb::migrate {
namespace {

std::string at(const Origin& o) { return o.file + ":" + std::to_string(o.line) + ": "; }

// $(name): an earlier property, else the environment; an unknown name is left as written.
template <class Lookup>
std::string substitute(std::string_view value, const Lookup& lookup) {
  std::string out;
  std::size_t pos = 0;
  while (pos < value.size()) {
    const std::size_t start = value.find("$(", pos);
    const std::size_t end = start == std::string_view::npos ? start : value.find(')', start);
    if (end == std::string_view::npos) break;
    out.append(value.substr(pos, start - pos));
    const std::string_view name = value.substr(start + 2, end - start - 2);
    if (auto found = lookup(name)) {
      out += *found;
    } else {
      out.append(value.substr(start, end - start + 1));
    }
    pos = end + 1;
  }
  out.append(value.substr(pos < value.size() ? pos : value.size()));
  return out;
}

// Splits one line into key and value; false for a blank or comment-only line.
Expected<bool> split_line(std::string_view line, const Origin& origin, std::string_view& key, std::string_view& value) {
  if (const std::size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  line = text::trim(line);
  if (line.empty()) return false;
  const std::size_t eq = line.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return fail(at(origin) + "error: not a property line (key=value): " + text::quoted(line));
  }
  key = text::trim(line.substr(0, eq));
  value = text::trim(line.substr(eq + 1));
  return true;
}

template <class Each>
Status each_line(std::string_view text, std::string_view file, const Each& each) {
  std::size_t number = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t nl = text.find('\n', pos);
    const std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    ++number;
    if (auto st = each(line, Origin{std::string(file), number}); !st) return st;
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return Ok{};
}

}  // namespace

bool is_list_key(std::string_view key) {
  if (key == "worker.list") return true;
  for (std::string_view suffix : {".balance_workers", ".balanced_workers", ".user", ".mount"}) {
    if (key.size() > suffix.size() && key.substr(key.size() - suffix.size()) == suffix) return true;
  }
  return false;
}

std::vector<std::string> split_list(std::string_view value) {
  std::vector<std::string> items;
  std::size_t pos = 0;
  while (pos < value.size()) {
    const std::size_t end = value.find_first_of(", \t", pos);
    const std::string_view item = value.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    if (!item.empty()) items.emplace_back(item);
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return items;
}

std::optional<bool> parse_bool(std::string_view value) {
  const std::string v = ascii::lowered(value);
  for (std::string_view t : {"1", "on", "true", "t", "yes", "y"}) {
    if (v == t) return true;
  }
  for (std::string_view f : {"0", "off", "false", "f", "no", "n"}) {
    if (v == f) return false;
  }
  return std::nullopt;
}

void Properties::set(std::string key, std::string value, const Origin& origin) {
  for (Property& p : props_) {
    if (p.key != key) continue;
    if (is_list_key(key) && !p.value.empty()) {
      p.value += "," + value;
    } else {
      p.value = std::move(value);
    }
    p.origin = origin;
    return;
  }
  props_.push_back(Property{std::move(key), std::move(value), origin});
}

const Property* Properties::find(std::string_view key) const {
  for (const Property& p : props_) {
    if (p.key == key) return &p;
  }
  return nullptr;
}

Status Properties::add_line(std::string_view line, const Origin& origin, const GetEnv& env) {
  std::string_view key;
  std::string_view value;
  auto has = split_line(line, origin, key, value);
  if (!has) return fail(has.error());
  if (!*has) return Ok{};
  auto lookup = [&](std::string_view name) -> std::optional<std::string> {
    if (const Property* p = find(name)) return p->value;
    return env ? env(name) : std::nullopt;
  };
  set(std::string(key), substitute(value, lookup), origin);
  return Ok{};
}

Status Properties::add_text(std::string_view text, std::string_view file, const GetEnv& env) {
  return each_line(text, file, [&](std::string_view line, const Origin& o) { return add_line(line, o, env); });
}

Expected<std::vector<Property>> read_property_lines(std::string_view text, std::string_view file, const GetEnv& env) {
  std::vector<Property> out;
  auto lookup = [&](std::string_view name) -> std::optional<std::string> { return env ? env(name) : std::nullopt; };
  auto st = each_line(text, file, [&](std::string_view line, const Origin& o) -> Status {
    std::string_view key;
    std::string_view value;
    auto has = split_line(line, o, key, value);
    if (!has) return fail(has.error());
    if (*has) out.push_back(Property{std::string(key), substitute(value, lookup), o});
    return Ok{};
  });
  if (!st) return fail(st.error());
  return out;
}

}  // namespace idmb::migrate

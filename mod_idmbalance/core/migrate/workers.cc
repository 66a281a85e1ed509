// Workers of a workers.properties, references resolved (jk_workers.h).
#include "idmb/jk_workers.h"

#include <set>

#include "../util/ascii.h"
#include "../util/text.h"

namespace idmb::migrate {
namespace {

constexpr int kMaxReferenceDepth = 20;
constexpr std::string_view kPrefix = "worker.";

std::string at(const Origin& o) { return o.file + ":" + std::to_string(o.line) + ": "; }

// "worker.NAME.ATTR" -> NAME, ATTR; false for other keys (worker.list, worker.maintain).
bool split_key(std::string_view key, std::string& name, std::string& attr) {
  if (key.substr(0, kPrefix.size()) != kPrefix) return false;
  const std::string_view rest = key.substr(kPrefix.size());
  const std::size_t dot = rest.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return false;
  name = rest.substr(0, dot);
  attr = rest.substr(dot + 1);
  return true;
}

WorkerType type_of(std::string_view text) {
  if (text == "ajp13") return WorkerType::Ajp13;
  if (text == "lb") return WorkerType::Lb;
  if (text == "status") return WorkerType::Status;
  return WorkerType::Other;
}

using Own = std::map<std::string, std::map<std::string, Property>>;

// X's attributes: its own, then (for those it lacks) its reference's, resolved the same way.
Status inherit(const Own& own, const std::string& name, std::map<std::string, Property>& out, int depth) {
  auto it = own.find(name);
  if (it == own.end()) return Ok{};
  for (const auto& [attr, prop] : it->second) out.emplace(attr, prop);
  auto ref = it->second.find("reference");
  if (ref == it->second.end()) return Ok{};
  std::string target = ref->second.value;
  if (target.substr(0, kPrefix.size()) == kPrefix) target = target.substr(kPrefix.size());
  if (depth >= kMaxReferenceDepth) {
    return fail(at(ref->second.origin) + "error: worker references nest deeper than 20 (a loop?) at " +
                text::quoted(ref->second.value));
  }
  if (!own.count(target)) {
    return fail(at(ref->second.origin) +
                "error: reference to a worker with no properties: " + text::quoted(ref->second.value));
  }
  return inherit(own, target, out, depth + 1);
}

}  // namespace

const Property* Worker::get(std::string_view attr) const {
  auto it = attrs.find(std::string(attr));
  return it == attrs.end() ? nullptr : &it->second;
}

const Worker* Workers::find(std::string_view name) const {
  auto it = by_name.find(std::string(name));
  return it == by_name.end() ? nullptr : &it->second;
}

Expected<Workers> resolve_workers(const Properties& props) {
  Workers workers;
  Own own;
  for (const Property& p : props.all()) {
    std::string name;
    std::string attr;
    if (p.key == "worker.list") {
      for (std::string& w : split_list(p.value)) workers.list.push_back(std::move(w));
    } else if (p.key == "worker.maintain") {
      workers.maintain = p;
    } else if (split_key(p.key, name, attr)) {
      own[name][attr] = p;
    }
  }
  std::set<std::string> names(workers.list.begin(), workers.list.end());
  for (const auto& [name, attrs] : own) names.insert(name);
  for (const std::string& name : names) {
    Worker w;
    w.name = name;
    if (auto st = inherit(own, name, w.attrs, 0); !st) return fail(st.error());
    w.type_text = w.get("type") ? w.get("type")->value : "ajp13";
    w.type = type_of(w.type_text);
    workers.by_name.emplace(name, std::move(w));
  }
  return workers;
}

}  // namespace idmb::migrate

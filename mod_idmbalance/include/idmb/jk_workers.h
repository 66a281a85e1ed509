// The workers a workers.properties defines, with `worker.X.reference` resolved: mod_jk copies
// every property of the referenced worker that X does not set itself, recursively (at most 20
// levels), so X's own lines win, then its reference's, then that one's reference's.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "idmb/expected.h"
#include "idmb/jk_properties.h"

namespace idmb::migrate {

enum class WorkerType { Ajp13, Lb, Status, Other };

struct Worker {
  std::string name;
  WorkerType type = WorkerType::Ajp13;
  std::string type_text;                  // as written, for messages ("ajp14")
  std::map<std::string, Property> attrs;  // attribute ("lbfactor") -> its line, reference resolved
  const Property* get(std::string_view attr) const;
};

struct Workers {
  std::vector<std::string> list;  // worker.list, in order
  std::map<std::string, Worker> by_name;
  std::optional<Property> maintain;  // worker.maintain
  const Worker* find(std::string_view name) const;
};

// Every worker named by worker.list, as a balance_workers member, or by any worker.X.* line.
// Errors: a reference loop or chain deeper than 20, a reference to nothing.
Expected<Workers> resolve_workers(const Properties& props);

}  // namespace idmb::migrate

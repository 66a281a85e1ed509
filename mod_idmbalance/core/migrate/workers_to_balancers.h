// Private to the converter: mod_jk workers written as <IdmBalancer> sections.
#pragma once

#include <set>
#include <string>

#include "idmb/jk_workers.h"
#include "idmb/migrate.h"
#include "output.h"

namespace idmb::migrate {

// Every lb worker, and every ajp13 worker in `direct` (mounted by itself), as a balancer of
// the main server, with a warning for each property that cannot be carried over.
void write_balancers(const Workers& workers, const std::set<std::string>& direct, Output& out);

// A status worker's handler: read_only=true is the read-only status page, else the manager.
// Its other properties are reported as not carried over.
std::string status_handler(const Worker& w, Output& out, std::string_view indent);

// Why a worker property has no equivalent (the warning's text), or nullptr if it has one.
const char* dropped_property_reason(std::string_view attr);

}  // namespace idmb::migrate

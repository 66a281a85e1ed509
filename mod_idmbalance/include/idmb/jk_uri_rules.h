// mod_jk mount rules: a uriworkermap.properties line (`[-][!]PATTERN=WORKER[;ext=v...]`) or
// the arguments of JkMount/JkUnMount (`PATTERN WORKER[;ext=v...]`). `A|B` in a pattern stands
// for the two patterns A and AB (`/app|/*` is `/app` and `/app/*`).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "idmb/expected.h"

namespace idmb::migrate {

struct UriRule {
  std::vector<std::string> patterns;  // one, or two for the `|` form
  std::string worker;
  bool exclusion = false;                                       // `!`: JkUnMount
  bool disabled = false;                                        // `-`: a rule that does nothing
  std::vector<std::pair<std::string, std::string>> extensions;  // ";reply_timeout=1000" ...
};

// One uriworkermap line's key and value (already split at '=' by the properties reader).
Expected<UriRule> parse_uri_rule(std::string_view key, std::string_view value);
// JkMount/JkUnMount arguments: `pattern` may be empty (a one-argument JkMount in <Location>).
Expected<UriRule> parse_mount_args(std::string_view pattern, std::string_view worker_and_ext, bool exclusion);

}  // namespace idmb::migrate

// idmbalance-migrate's conversion: httpd config files with mod_jk directives, their
// workers.properties and uriworkermap.properties, in; the same config with every Jk* directive
// replaced by mod_idmbalance's (the original kept as a comment above it) out, with warnings for
// what cannot be carried over. Pure: files are read through Options::read, so tests need no
// disk. What it writes is checked with the core's own config model (server_config.h) before it
// is returned.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "idmb/expected.h"
#include "idmb/jk_properties.h"

namespace idmb::migrate {

struct Warning {
  Origin origin;
  std::string message;
};

// "FILE:LINE: warning: MESSAGE" (no LINE when it is 0).
std::string format_warning(const Warning& w);

struct Options {
  std::string server_root = "/etc/apache2";      // relative paths in the config are under it
  bool server_root_given = false;                // --server-root: a ServerRoot line does not change it
  std::optional<std::string> workers_file;       // --workers: instead of JkWorkersFile's
  std::optional<std::string> uriworkermap_file;  // --uriworkermap: instead of every JkMountFile's
  std::function<std::optional<std::string>(const std::string& path)> read;  // nullopt: cannot read
  GetEnv env;  // for $(name) in workers.properties; may be empty
};

struct Result {
  std::string output;
  std::vector<Warning> warnings;
};

// Errors are "FILE:LINE: error: ..." (an input that cannot be read or parsed, or a converted
// config the core refuses).
Expected<Result> convert(const std::vector<std::string>& conf_files, const Options& options);

}  // namespace idmb::migrate

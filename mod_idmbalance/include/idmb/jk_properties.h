// workers.properties and uriworkermap.properties as mod_jk reads them (jk_map): one
// `key=value` a line, `#` starts a comment anywhere on the line, spaces around key and value
// are trimmed, `$(name)` is replaced by an earlier property or else the process environment.
// A key given again replaces the value, except list keys (worker.list, balance_workers, user,
// mount), whose values add up. No continuation lines: mod_jk has none.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "idmb/expected.h"

namespace idmb::migrate {

// Where a value came from, for `FILE:LINE: warning:` messages.
struct Origin {
  std::string file;
  std::size_t line = 0;
};

struct Property {
  std::string key;  // as written (mod_jk keys are case-sensitive)
  std::string value;
  Origin origin;
};

using GetEnv = std::function<std::optional<std::string>(std::string_view name)>;

class Properties {
 public:
  // Adds one `key=value` line (JkWorkerProperty, or a line of a file); an error names the line.
  Status add_line(std::string_view line, const Origin& origin, const GetEnv& env);
  // Every line of `text`, numbered from 1 as `file`.
  Status add_text(std::string_view text, std::string_view file, const GetEnv& env);

  const Property* find(std::string_view key) const;
  const std::vector<Property>& all() const { return props_; }

 private:
  void set(std::string key, std::string value, const Origin& origin);
  std::vector<Property> props_;
};

// A list value split at ',', spaces and tabs (jk_map_get_string_list), empty items dropped.
std::vector<std::string> split_list(std::string_view value);

// mod_jk's booleans: 1/0, on/off, true/false, t/f, yes/no, y/n (by the first letters, any
// case). nullopt for anything else.
std::optional<bool> parse_bool(std::string_view value);

// The `key=value` lines of `text` as written, duplicates kept (uriworkermap.properties may name
// one pattern twice); `$(name)` replaced from the environment only.
Expected<std::vector<Property>> read_property_lines(std::string_view text, std::string_view file, const GetEnv& env);

// Whether mod_jk adds up repeated values of this key rather than replacing them.
bool is_list_key(std::string_view key);

}  // namespace idmb::migrate

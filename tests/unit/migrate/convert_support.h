// Test support for the converter: files in memory, and the converted text read back with the
// core's config model the way httpd would read it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "idmb/migrate.h"
#include "idmb/server_config.h"

namespace idmb::test {

inline migrate::Options memory_files(const std::map<std::string, std::string>& files) {
  migrate::Options o;
  o.server_root = "/etc/apache2";
  o.read = [files](const std::string& path) -> std::optional<std::string> {
    auto it = files.find(path);
    if (it == files.end()) return std::nullopt;
    return it->second;
  };
  return o;
}

// Every Idm directive of the main server and of each <VirtualHost>, applied to its own
// ServerConfig, then the checks over all scopes. Lines inside <Location> are skipped (they are
// not server-scope directives). The error names the line.
inline Status read_back(const std::string& text) {
  std::vector<config::ServerConfig> scopes(1);
  std::size_t scope = 0;
  bool in_location = false;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl - start);
    start = nl == std::string::npos ? text.size() : nl + 1;
    line.erase(0, line.find_first_not_of(" \t") == std::string::npos ? line.size() : line.find_first_not_of(" \t"));
    if (line.rfind("<VirtualHost", 0) == 0) {
      scopes.emplace_back();
      scope = scopes.size() - 1;
    } else if (line.rfind("</VirtualHost>", 0) == 0) {
      scope = 0;
    } else if (line.rfind("<Location", 0) == 0) {
      in_location = true;
    } else if (line.rfind("</Location", 0) == 0) {
      in_location = false;
    }
    if (in_location ||
        line.rfind("Idm", 0) != 0 && line.rfind("<IdmBalancer", 0) != 0 && line.rfind("</IdmBalancer>", 0) != 0) {
      continue;
    }
    Status st = Ok{};
    if (line.rfind("<IdmBalancer ", 0) == 0) {
      st = scopes[scope].open_section(line.substr(13));
    } else if (line == "</IdmBalancer>") {
      st = scopes[scope].close_section();
    } else {
      const auto words = config::split_directive_args(line);
      const config::Args args(words.begin() + 1, words.end());
      st = scopes[scope].apply(words[0], args);
    }
    if (!st) return fail(line + ": " + st.error());
  }
  std::vector<const config::ServerConfig*> all;
  for (const auto& s : scopes) all.push_back(&s);
  return config::check_servers(all);
}

}  // namespace idmb::test

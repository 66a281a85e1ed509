// Private to the converter: the state of one conversion (convert() in migrate.h). Pass one
// (scan) finds what the workers depend on: JkWorkersFile, JkWorkerProperty, ServerRoot,
// JkMountCopy All, the JK_* variables the config sets. Pass two (emit) writes every file.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "conf_lines.h"
#include "idmb/jk_uri_rules.h"
#include "idmb/jk_workers.h"
#include "idmb/migrate.h"
#include "output.h"

namespace idmb::migrate {

class Converter {
 public:
  explicit Converter(const Options& options) : options_(options), out_(warnings_) {}
  Expected<Result> run(const std::vector<std::string>& files);

 private:
  struct Where {
    std::size_t scope = 0;  // 0: main server, else the n-th <VirtualHost>
    std::string location;   // inside <Location PATH> / <LocationMatch RE>: PATH or RE
    bool location_match = false;
    std::string file;
  };

  Status scan(const std::string& file, const std::vector<ConfLine>& lines);
  Status load_workers();
  Status emit(const std::string& file, const std::vector<ConfLine>& lines);
  Status emit_line(const ConfLine& l, Where& where);
  void track_sections(const ConfLine& l, Where& where);
  Status jk_directive(const ConfLine& l, const Where& where);
  Status write_balancer_block(const Origin& origin);
  Status mount_file(const std::string& path, const Origin& origin, const Where& where, const std::string& indent);
  void mount_rule(const UriRule& rule, const Origin& origin, const Where& where, const std::string& indent);
  void mount_in_location(const UriRule& rule, const Origin& origin, const Where& where, const std::string& indent);
  static std::optional<std::string> located_pattern_refused(const std::string& pattern);
  void status_location(const Worker& w, const std::string& pattern, const Origin& origin, const Where& where,
                       const std::string& indent);
  void mount_copy(const std::vector<std::string>& args, const Origin& origin, const Where& where,
                  const std::string& indent);
  void indicator(std::string_view directive, const std::vector<std::string>& args, const Origin& origin,
                 const Where& where, const std::string& indent);
  void options(const std::vector<std::string>& args, const Origin& origin, const std::string& indent);
  std::string resolve(const std::string& path) const;
  Expected<std::string> read(const std::string& path, const Origin& origin) const;

  const Options& options_;
  std::vector<Warning> warnings_;
  Output out_;
  std::string server_root_;
  std::optional<std::string> workers_file_;
  Origin workers_origin_;
  std::vector<Property> worker_properties_;  // JkWorkerProperty lines
  bool mount_copy_all_ = false;
  bool has_mount_file_ = false;
  std::set<std::string> jk_variables_set_;  // JK_REMOTE_ADDR ... set by SetEnv and friends
  std::set<std::string> indicators_written_;
  Workers workers_;
  bool balancers_written_ = false;
  std::size_t vhosts_ = 0;
  // JkMount/JkUnMount WORKER inside <Location PATH> or <LocationMatch RE>: mod_jk maps PATH
  // (or the text RE) as a pattern of the enclosing server or vhost, so that is written, as an
  // IdmMount, after the section's end.
  struct LocationMount {
    Origin origin;
    std::string path, worker;
    bool exclusion = false;
  };
  std::vector<LocationMount> location_mounts_;
};

// A mod_jk pattern (`*`, `?`) as an anchored regular expression, for <LocationMatch>.
std::string glob_to_regex(std::string_view pattern);

// Checks `directives` with the core's config model: each scope's balancers and mounts, then
// all scopes together (balancer names, mounted balancers exist).
Status validate(const std::vector<EmittedDirective>& directives, std::size_t scopes);

}  // namespace idmb::migrate

// URL mounts: which balancer serves a path. Patterns are "/exact", "/prefix/*", "/dir/*.jsp"
// (glob with * and ?). The most specific match wins (exact, then most literal characters);
// unmounts are applied after a match. "/prefix/*" also matches "/prefix" itself.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "idmb/expected.h"

namespace idmb {

class MountMap {
 public:
  // Fails on a pattern that does not start with '/' or contains whitespace/control bytes.
  Status mount(std::string_view pattern, std::string_view balancer);
  // `balancer` "*" excludes the pattern from every balancer.
  Status unmount(std::string_view pattern, std::string_view balancer);
  // Adds the other map's rules after this map's (a VirtualHost inheriting the server's).
  void merge_from(const MountMap& base);

  // Balancer name for a normalised path (see uri_path.h), or nullptr.
  const std::string* match(std::string_view normalized_path) const;
  // Whether an IdmUnmount of `balancer` (or of "*") matches the normalised path.
  bool unmounted(std::string_view balancer, std::string_view normalized_path) const;

  bool empty() const { return mounts_.empty(); }
  // All (pattern, balancer) mounts, for the status page.
  struct Rule {
    std::string pattern;
    std::string balancer;
    std::size_t literals = 0;  // pattern bytes other than * and ?, counted once (match())
  };
  const std::vector<Rule>& mounts() const { return mounts_; }
  const std::vector<Rule>& unmounts() const { return unmounts_; }

 private:
  std::vector<Rule> mounts_;
  std::vector<Rule> unmounts_;
};

}  // namespace idmb

// The path mounts are matched against, and what may be forwarded unchanged.
#include "idmb/uri_path.h"

#include <optional>
#include <string>
#include <string_view>

namespace idmb {

std::optional<std::string> normalize_path_for_mount(std::string_view decoded_path) {
  if (decoded_path.empty() || decoded_path.front() != '/') return std::nullopt;

  std::string out;  // "/seg/seg" without a trailing '/'; empty means the root
  out.reserve(decoded_path.size());
  bool trailing_slash = false;
  std::size_t start = 1;
  while (true) {
    const std::size_t slash = decoded_path.find('/', start);
    std::string_view segment =
        decoded_path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    // Tomcat drops ";params" from every segment before it resolves dot segments, so
    // "..;x" is "..": match what it will serve, not what the URL looks like.
    segment = segment.substr(0, segment.find(';'));
    if (segment == "..") {
      if (out.empty()) return std::nullopt;  // above the root
      out.resize(out.rfind('/'));
    } else if (!segment.empty() && segment != ".") {
      out += '/';
      out += segment;
    }
    // A path that ends in a directory ("/a/", "/a/.", "/a/b/..") keeps its trailing '/'.
    trailing_slash = segment.empty() || segment == "." || segment == "..";
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (out.empty() || trailing_slash) out += '/';
  return out;
}

bool is_forwardable_raw_path(std::string_view raw_path) {
  if (raw_path.empty() || raw_path.front() != '/') return false;
  for (char c : raw_path) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7F || c == '#' || c == '?') return false;
  }
  return true;
}

}  // namespace idmb

// httpd config lines (conf_lines.h).
#include "conf_lines.h"

#include "../util/text.h"

namespace idmb::migrate {
namespace {

void split_name(ConfLine& l) {
  const std::string_view line = text::trim(l.logical);
  if (line.empty() || line.front() == '#') return;
  std::size_t end = line.find_first_of(" \t");
  if (end == std::string_view::npos) end = line.size();
  std::string_view name = line.substr(0, end);
  // "<Location>" style openers without arguments, "</VirtualHost>": the '>' is part of the name.
  l.name = name;
  l.rest = text::trim(line.substr(end));
}

}  // namespace

std::vector<ConfLine> read_conf_lines(std::string_view text) {
  std::vector<ConfLine> lines;
  std::size_t pos = 0;
  std::size_t number = 0;
  while (pos < text.size()) {
    ConfLine l;
    l.number = number + 1;
    bool more = true;
    while (more && pos < text.size()) {
      const std::size_t nl = text.find('\n', pos);
      std::string_view phys = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
      pos = nl == std::string_view::npos ? text.size() : nl + 1;
      ++number;
      if (!l.physical.empty()) l.physical += '\n';
      l.physical.append(phys);
      if (!phys.empty() && phys.back() == '\r') phys.remove_suffix(1);
      more = !phys.empty() && phys.back() == '\\';
      if (more) phys.remove_suffix(1);
      l.logical.append(phys);
    }
    const std::size_t first = l.logical.find_first_not_of(" \t");
    l.indent = l.logical.substr(0, first == std::string::npos ? l.logical.size() : first);
    l.logical.erase(0, l.indent.size());
    split_name(l);
    lines.push_back(std::move(l));
  }
  return lines;
}

}  // namespace idmb::migrate

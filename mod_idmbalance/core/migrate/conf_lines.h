// Private to the converter: an httpd config file as httpd reads it, one logical line at a
// time (a line ending in '\' continues on the next), with the physical text kept for copying.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace idmb::migrate {

struct ConfLine {
  std::size_t number = 0;  // of its first physical line
  std::string physical;    // as written, continuation lines and their newlines included
  std::string logical;     // continuations joined, without the leading whitespace
  std::string indent;      // the leading whitespace
  std::string name;        // the first word ("JkMount", "<VirtualHost"); empty for blank and comment lines
  std::string rest;        // after the name, trimmed
};

std::vector<ConfLine> read_conf_lines(std::string_view text);

}  // namespace idmb::migrate

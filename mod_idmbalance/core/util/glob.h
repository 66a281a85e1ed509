// Private to the core: glob patterns for mounts and server aliases.
#pragma once

#include <string_view>

namespace idmb {

// '*' matches any run of bytes (including '/'), '?' exactly one; case-sensitive.
bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace idmb

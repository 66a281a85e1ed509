// Sizes: "65536", "64k", "1m".
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "idmb/config.h"

using idmb::config::parse_byte_size;

TEST_CASE("parse_byte_size: accepted forms", "[config][size]") {
  const auto [text, bytes] = GENERATE(table<std::string, std::uint32_t>({
      {"0", 0},
      {"65536", 65536},
      {"64k", 65536},
      {"64K", 65536},
      {"1m", 1048576},
      {"1M", 1048576},
      {"0064k", 65536},
      {"1024m", 1073741824u},
  }));
  INFO(text);
  const auto size = parse_byte_size(text, 1u << 30);
  REQUIRE(size.ok());
  CHECK(*size == bytes);
}

TEST_CASE("parse_byte_size: rejected forms say why", "[config][size]") {
  const std::string text =
      GENERATE("", "k", "-1", "1.5m", "64 k", "64kb", "1g", " 64k", "1025m", "99999999999999999999", "4194304k");
  INFO(text);
  const auto size = parse_byte_size(text, 1u << 30);
  REQUIRE_FALSE(size.ok());
  CHECK(size.error().find(text) != std::string::npos);
}

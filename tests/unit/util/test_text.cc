// The shared text helpers of the core (core/util/text.h, ascii.h).
#include <catch2/catch.hpp>

#include <string>

#include "../../../mod_idmbalance/core/util/ascii.h"
#include "../../../mod_idmbalance/core/util/text.h"

using idmb::text::DurationStyle;
using idmb::text::human_duration;
using idmb::text::quoted;

TEST_CASE("quoted: as it is, or cut and made printable", "[util][text]") {
  CHECK(quoted("abc") == "'abc'");
  CHECK(quoted("") == "''");
  CHECK(quoted("it's") == "'it's'");
  CHECK(quoted(std::string("a\0b", 3)) == std::string("'a\0b'", 5));

  const std::string long_value(70, 'x');
  CHECK(quoted(long_value) == "'" + long_value + "'");
  CHECK(quoted(long_value, {.max_bytes = 64}) == "'" + std::string(64, 'x') + "...'");
  CHECK(quoted(std::string(64, 'x'), {.max_bytes = 64}) == "'" + std::string(64, 'x') + "'");

  CHECK(quoted("a\r\nb\x7f\xc3\xa9", {.printable = true}) ==
        "'a"
        "??"
        "b"
        "??"
        "?'");
  CHECK(quoted("a\r\nb", {.max_bytes = 2, .printable = true}) == "'a?...'");
}

TEST_CASE("trim: spaces and tabs at both ends only", "[util][text]") {
  using idmb::text::trim;
  CHECK(trim("  \ta b\t ") == "a b");
  CHECK(trim("\r\nx\n") == "\r\nx\n");
  CHECK(trim(" \t ").empty());
  CHECK(trim("").empty());
}

TEST_CASE("human_duration, fixed: status page columns", "[util][text]") {
  const auto fixed = [](std::int64_t ms) { return human_duration(ms, DurationStyle::Fixed); };
  CHECK(fixed(-5) == "0s");
  CHECK(fixed(999) == "0s");
  CHECK(fixed(59'999) == "59s");
  CHECK(fixed(60'000) == "1m 0s");
  CHECK(fixed(3'600'000) == "1h 0m");
  CHECK(fixed(7'500'000) == "2h 5m");
  CHECK(fixed(86'400'000) == "1d 0h");
}

TEST_CASE("human_duration, brief: log lines", "[util][text]") {
  const auto brief = [](std::int64_t ms) { return human_duration(ms, DurationStyle::Brief); };
  CHECK(brief(0) == "0ms");
  CHECK(brief(999) == "999ms");
  CHECK(brief(1000) == "1s");
  CHECK(brief(60'000) == "1m");
  CHECK(brief(125'000) == "2m 5s");
  CHECK(brief(7'500'000) == "2h 5m");
  CHECK(brief(3'600'000) == "1h");
  CHECK(brief(86'400'000 * 3 + 3'600'000 * 4) == "3d 4h");
}

TEST_CASE("ascii: case-insensitive compare and lowering", "[util][ascii]") {
  using namespace idmb::ascii;
  CHECK(iequals("IdmMember", "idmmEMBER"));
  CHECK_FALSE(iequals("IdmMember", "IdmMembers"));
  CHECK_FALSE(iequals("\xc3\x89", "\xc3\xa9"));  // ASCII letters only
  CHECK(istarts_with("AJP://h", "ajp://"));
  CHECK(lowered("Host.Example.ORG") == "host.example.org");
}

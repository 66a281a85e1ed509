// Durations: "5" (seconds), "5s", "250ms", "2m".
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "idmb/config.h"

using idmb::config::parse_duration_ms;
using idmb::config::parse_duration_or_zero_ms;

TEST_CASE("parse_duration_ms: accepted forms", "[config][duration]") {
  const auto [text, ms] = GENERATE(table<std::string, std::uint32_t>({
      {"5", 5000},
      {"5s", 5000},
      {"5S", 5000},
      {"250ms", 250},
      {"250MS", 250},
      {"1ms", 1},
      {"2m", 120000},
      {"0100ms", 100},
      {"4294967295ms", 4294967295u},
      {"4294967", 4294967000u},
      {"71582m", 4294920000u},
  }));
  INFO(text);
  const auto d = parse_duration_ms(text);
  REQUIRE(d.ok());
  CHECK(*d == ms);
}

TEST_CASE("parse_duration_ms: rejected forms say why", "[config][duration]") {
  const auto [text, reason] = GENERATE(table<std::string, std::string>({
      {"", "expected a duration such as 250ms, 5s or 2m (a bare number means seconds), got ''"},
      {"-1", "expected a duration"},
      {"+1", "expected a duration"},
      {" 5", "expected a duration"},
      {"5 ", "expected a duration"},
      {"5 s", "expected a duration"},
      {"1.5s", "expected a duration"},
      {"5h", "expected a duration"},
      {"5sec", "expected a duration"},
      {"ms", "expected a duration"},
      {"s", "expected a duration"},
      {"0", "duration must be greater than 0, got '0'"},
      {"0s", "duration must be greater than 0"},
      {"000ms", "duration must be greater than 0"},
      {"4294967296ms", "duration too long: at most 4294967295ms (about 49 days), got '4294967296ms'"},
      {"4294968", "duration too long"},
      {"71583m", "duration too long"},
      {"99999999999999999999999s", "duration too long"},
  }));
  INFO(text);
  const auto d = parse_duration_ms(text);
  REQUIRE_FALSE(d.ok());
  CHECK_THAT(d.error(), Catch::StartsWith(reason));
}

TEST_CASE("parse_duration_or_zero_ms: zero allowed, the rest unchanged", "[config][duration]") {
  for (const char* zero : {"0", "0s", "0ms", "0m"}) {
    const auto d = parse_duration_or_zero_ms(zero);
    REQUIRE(d.ok());
    CHECK(*d == 0);
  }
  const auto five = parse_duration_or_zero_ms("5s");
  REQUIRE(five.ok());
  CHECK(*five == 5000);
  CHECK_FALSE(parse_duration_or_zero_ms("-0").ok());
  CHECK_FALSE(parse_duration_or_zero_ms("").ok());
}

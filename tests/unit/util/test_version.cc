#include <catch2/catch.hpp>
#include <regex>
#include <string>

#include "idmb/version.h"

// IDMB_PROJECT_VERSION: CMake's PROJECT_VERSION, set on the test target (tests/CMakeLists.txt).
TEST_CASE("the core's version is CMake's project version", "[version]") {
  CHECK(idmb::version() == IDMB_PROJECT_VERSION);
  CHECK(std::regex_match(std::string(idmb::version()), std::regex(R"(\d+\.\d+\.\d+)")));
}

TEST_CASE("the module version names the module and the version", "[version]") {
  CHECK(idmb::module_version() == std::string("mod_idmbalance/") + IDMB_PROJECT_VERSION);
}

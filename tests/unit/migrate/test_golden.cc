// A realistic mod_jk setup converted, compared with the expected output byte for byte
// (tests/data/migrate/golden/; regenerate with IDMB_REGENERATE_GOLDEN=1 and review the diff).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "convert_support.h"

using namespace idmb::migrate;

namespace {

const std::string kDir = std::string(IDMB_TEST_DATA_DIR) + "/migrate/golden";

std::optional<std::string> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The input tree is read as if it were under /etc/apache2.
Options golden_options() {
  Options o;
  o.server_root = "/etc/apache2";
  o.read = [](const std::string& path) -> std::optional<std::string> {
    const std::string root = "/etc/apache2/";
    if (path.rfind(root, 0) != 0) return std::nullopt;
    return slurp(kDir + "/etc-apache2/" + path.substr(root.size()));
  };
  return o;
}

void compare(const std::string& actual, const std::string& name) {
  if (std::getenv("IDMB_REGENERATE_GOLDEN") != nullptr) std::ofstream(kDir + "/" + name, std::ios::binary) << actual;
  const auto expected = slurp(kDir + "/" + name);
  REQUIRE(expected.has_value());
  CHECK(actual == *expected);
}

}  // namespace

TEST_CASE("golden: the operator and self-service setup converted") {
  auto r = convert({"/etc/apache2/mods-available/jk.conf", "/etc/apache2/sites-available/idm.conf"}, golden_options());
  INFO((r.ok() ? std::string() : r.error()));
  REQUIRE(r.ok());
  compare(r->output, "expected.conf");
  std::string warnings;
  for (const Warning& w : r->warnings) warnings += format_warning(w) + "\n";
  compare(warnings, "expected.warnings");
  const auto back = idmb::test::read_back(r->output);
  INFO((back.ok() ? std::string() : back.error()));
  CHECK(back.ok());
}

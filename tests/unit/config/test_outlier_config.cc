// IdmOutlierDetection inside <IdmBalancer>: off by default, on with defaults, each key, and the
// errors (a refused line changes nothing).
#include <catch2/catch.hpp>

#include <string_view>
#include <vector>

#include "idmb/config.h"
#include "idmb/directives.h"

using idmb::config::apply_balancer_directive;
using idmb::config::BalancerConfig;
using Args = std::vector<std::string_view>;

TEST_CASE("IdmOutlierDetection: off by default, on with Envoy-like defaults", "[config][outlier]") {
  BalancerConfig b;
  CHECK_FALSE(b.outlier.enabled);
  REQUIRE(apply_balancer_directive(b, "IdmOutlierDetection", Args{"on"}));
  CHECK(b.outlier.enabled);
  CHECK(b.outlier.interval_ms == 10000);
  CHECK(b.outlier.ejection_time_ms == 30000);
  CHECK(b.outlier.max_ejection_time_ms == 300000);
  CHECK(b.outlier.max_ejected_percent == 10);
  REQUIRE(apply_balancer_directive(b, "idmoutlierdetection", Args{"OFF"}));
  CHECK_FALSE(b.outlier.enabled);
  CHECK(idmb::config::find_directive("IdmOutlierDetection") != nullptr);
}

TEST_CASE("IdmOutlierDetection: every key", "[config][outlier]") {
  BalancerConfig b;
  REQUIRE(apply_balancer_directive(
      b, "IdmOutlierDetection",
      Args{"on", "interval=5s", "min_requests=50", "error_factor=1.5", "error_min=30%", "latency_factor=4",
           "latency_min=750ms", "ejection_time=1m", "max_ejection_time=10m", "max_ejected=34"}));
  const auto& p = b.outlier;
  CHECK(p.interval_ms == 5000);
  CHECK(p.min_requests == 50);
  CHECK(p.error_factor == 150);
  CHECK(p.error_min_percent == 30);
  CHECK(p.latency_factor == 400);
  CHECK(p.latency_min_ms == 750);
  CHECK(p.ejection_time_ms == 60000);
  CHECK(p.max_ejection_time_ms == 600000);
  CHECK(p.max_ejected_percent == 34);
  REQUIRE(apply_balancer_directive(b, "IdmOutlierDetection", Args{"on", "error_factor=0", "latency_factor=2.25"}));
  CHECK(b.outlier.error_factor == 0);
  CHECK(b.outlier.latency_factor == 225);
  CHECK(b.outlier.interval_ms == 5000);  // a later line changes only what it names
}

TEST_CASE("IdmOutlierDetection: errors", "[config][outlier]") {
  BalancerConfig b;
  const auto refused = [&](Args args, std::string_view expect) {
    auto status = apply_balancer_directive(b, "IdmOutlierDetection", args);
    REQUIRE_FALSE(status);
    CHECK(status.error().find(expect) != std::string::npos);
    CHECK(status.error().find("IdmOutlierDetection") != std::string::npos);
    CHECK_FALSE(b.outlier.enabled);  // nothing applied
  };
  refused({}, "expected on or off");
  refused({"yes"}, "expected on or off");
  refused({"off", "interval=5s"}, "off takes no further arguments");
  refused({"on", "interval"}, "expected key=value");
  refused({"on", "speed=3"}, "unknown key");
  refused({"on", "interval=0"}, "interval");
  refused({"on", "error_factor=0.5"}, "error_factor");
  refused({"on", "error_factor=1.234"}, "error_factor");
  refused({"on", "error_factor=x"}, "error_factor");
  refused({"on", "error_min=0"}, "error_min");
  refused({"on", "max_ejected=101"}, "max_ejected");
  refused({"on", "min_requests=0"}, "min_requests");
  refused({"on", "ejection_time=5m", "max_ejection_time=1m"}, "max_ejection_time must be at least");
}

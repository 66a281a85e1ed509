// An ejected member on the three pages: its state, until when and how many times, read from
// the table by the snapshot.
#include <catch2/catch.hpp>

#include <string>

#include "idmb/health.h"
#include "idmb/status_render.h"
#include "idmb/status_snapshot.h"
#include "status/status_fixture.h"

using namespace idmb::status;
using namespace idmb::status::testing;

namespace {

Snapshot with_ejected_member() {
  Snapshot snap = fixed_snapshot();
  MemberStatus& m = snap.balancers.at(0).members.at(0);
  m.state = "ejected";
  m.state_since_ms = kNow - 5000;
  m.ejected_until_ms = kNow + 25000;
  m.outlier_ejections = 3;
  return snap;
}

}  // namespace

TEST_CASE("status: an ejected member's state, end and count on every page", "[status][outlier]") {
  const Snapshot snap = with_ejected_member();
  const std::string json = render_json(snap);
  CHECK(json.find("\"state\": \"ejected\"") != std::string::npos);
  CHECK(json.find("\"ejected_until_ms\": " + std::to_string(kNow + 25000)) != std::string::npos);
  CHECK(json.find("\"outlier_ejections\": 3") != std::string::npos);
  HtmlOptions o;
  const std::string html = render_html(snap, o);
  CHECK(html.find("st-ejected\">ejected</span>") != std::string::npos);
  CHECK(html.find("until 2024-05-01 12:00:25") != std::string::npos);
  CHECK(html.find("(ejection 3)") != std::string::npos);
  const std::string prom = render_prometheus(snap);
  CHECK(prom.find("state=\"ejected\"} 1") != std::string::npos);
}

TEST_CASE("status: the snapshot reads the ejection from the table", "[status][outlier]") {
  idmb::config::BalancerConfig cfg;
  cfg.name = "app";
  idmb::config::MemberConfig mc;
  mc.name = mc.route = "a";
  mc.host = "127.0.0.1";
  mc.port = 8009;
  cfg.members.push_back(mc);
  idmb::table::MemberSlot slot{};
  REQUIRE(idmb::health::eject(slot, kNow, kNow + 30000, 1, "outlier: test").changed);
  BalancerSource source;
  source.config = &cfg;
  source.slots = {&slot};
  const Snapshot snap = take_snapshot({source}, kNow, 30000);
  const MemberStatus& m = snap.balancers.at(0).members.at(0);
  CHECK(m.state == "ejected");
  CHECK(m.ejected_until_ms == kNow + 30000);
  CHECK(m.outlier_ejections == 1);
}

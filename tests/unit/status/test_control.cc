// The manager's control interface: form parsing, command validation, CSRF checks, and the
// actions applied to real worker-table records.
#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "idmb/control.h"
#include "idmb/worker_table.h"
#include "support/text.h"
#include "table/table_memory.h"

using namespace idmb;
using namespace idmb::status;
using idmb::table::testing::TableMemory;

namespace {

using Code = ControlResult::Code;

FormFields form(std::string_view body) {
  auto f = parse_form(body);
  INFO(std::string(body) << " -> " << (f.ok() ? "ok" : f.error()));
  REQUIRE(f.ok());
  return *f;
}

Expected<Command> command(std::string_view body) { return parse_command(form(body)); }

// One balancer "lb" with members t1, t2 in a real table; balancer settings recorded.
class FakeTarget : public ControlTarget {
 public:
  FakeTarget() : memory_(table::WorkerTable::bytes_needed(2)) {
    auto t = table::WorkerTable::create(memory_.span(), 2);
    REQUIRE(t.ok());
    table_.emplace(*t);
    REQUIRE(table_->add("lb", "t1", "t1", 0, 1).ok());
    REQUIRE(table_->add("lb", "t2", "t2", 0, 1).ok());
  }
  bool has_balancer(std::string_view b) override { return b == "lb"; }
  table::MemberSlot* member(std::string_view b, std::string_view m) override { return table_->find(b, m); }
  Status set_method(std::string_view, config::Method m) override {
    if (refuse) return fail("refused");
    method = m;
    return Ok{};
  }
  Status set_sticky_force(std::string_view, bool f) override {
    if (refuse) return fail("refused");
    sticky_force = f;
    return Ok{};
  }
  std::int64_t now_ms() override { return 123456; }

  table::MemberSlot& slot(std::string_view m) { return *table_->find("lb", m); }

  std::optional<config::Method> method;
  std::optional<bool> sticky_force;
  bool refuse = false;

 private:
  TableMemory memory_;
  std::optional<table::WorkerTable> table_;
};

ControlResult apply(FakeTarget& target, std::string_view body) {
  auto cmd = command(body);
  INFO(std::string(body) << " -> " << (cmd.ok() ? "ok" : cmd.error()));
  REQUIRE(cmd.ok());
  return apply_command(*cmd, target);
}

std::uint32_t activation(FakeTarget& t, std::string_view m) { return t.slot(m).activation.load(); }
constexpr auto as_u32(config::Activation a) { return static_cast<std::uint32_t>(a); }

}  // namespace

TEST_CASE("parse_form: decoding", "[status]") {
  auto f = form("nonce=ab%2Fcd&balancer=lb&member=t1&action=disable");
  REQUIRE(f.items.size() == 4);
  CHECK(f.items[0] == std::pair<std::string, std::string>{"nonce", "ab/cd"});
  CHECK(*f.find("member") == "t1");
  CHECK(f.find("factor") == nullptr);

  CHECK(*form("a=x+y%20z").find("a") == "x y z");
  CHECK(*form("a=%2b%2B").find("a") == "++");
  CHECK(*form("a=%2541").find("a") == "%41");  // decoded once only
  CHECK(*form("a=caf%C3%A9").find("a") == "caf\xc3\xa9");
  CHECK(form("a").find("a")->empty());
  CHECK(form("a=").find("a")->empty());
  CHECK(*form("a==b").find("a") == "=b");
  CHECK(*form("b%61d=1").find("bad") == "1");  // keys are decoded too
  CHECK(form("").items.empty());
  CHECK(form("&&a=1&&b=2&").items.size() == 2);
}

TEST_CASE("parse_form: refusals", "[status]") {
  for (std::string_view bad :
       {"a=%", "a=%4", "a=%zz", "a=%4g", "a%=1", "a=1%", "a=%%41", "=1", "%00=1", "a=%00", "a=1&a=2", "a=1&b=2&a=1"}) {
    INFO(std::string(bad));
    CHECK_FALSE(parse_form(bad).ok());
  }
  // Size: exactly 8 KiB passes, one byte more does not.
  const std::string big = "a=" + std::string(kMaxFormBytes - 2, 'x');
  CHECK(parse_form(big).ok());
  CHECK_FALSE(parse_form(big + "x").ok());
  // Field count: 32 pass, 33 do not.
  std::string many;
  for (int i = 0; i < 32; ++i) many.append(test::numbered("k", i)).append("=v&");
  CHECK(parse_form(many).ok());
  many += "k32=v";
  const auto too_many = parse_form(many);
  REQUIRE_FALSE(too_many.ok());
  CHECK(too_many.error().find("32") != std::string::npos);
  CHECK(parse_form("a=1&a=2").error().find("twice") != std::string::npos);
}

TEST_CASE("parse_command: valid commands", "[status]") {
  auto c = command("nonce=n&balancer=lb&member=t1&action=stop");
  REQUIRE(c.ok());
  CHECK(c->nonce == "n");
  CHECK(c->balancer == "lb");
  CHECK(c->member == "t1");
  CHECK(c->action == Action::Stop);
  CHECK_FALSE(c->factor);

  c = command("balancer=lb&member=t1&factor=100");
  REQUIRE(c.ok());
  CHECK(c->factor == 100u);
  CHECK_FALSE(c->action);
  CHECK(c->nonce.empty());

  c = command("balancer=lb&member=t1&action=activate&factor=01");
  REQUIRE(c.ok());
  CHECK(c->factor == 1u);

  c = command("nonce=n&balancer=lb&member=&method=p2c&sticky_force=on");
  REQUIRE(c.ok());
  CHECK(c->member.empty());
  CHECK(c->method == config::Method::P2C);
  CHECK(c->sticky_force == true);
  CHECK(command("balancer=lb&sticky_force=off")->sticky_force == false);
  CHECK(command("balancer=lb&sticky_force=0")->sticky_force == false);
  CHECK(command("balancer=lb&sticky_force=true")->sticky_force == true);
  CHECK(command("balancer=lb&method=traffic")->method == config::Method::Traffic);

  for (std::string_view a : {"activate", "disable", "stop", "standby", "reset", "recover"}) {
    auto cmd = command("balancer=lb&member=t1&action=" + std::string(a));
    REQUIRE(cmd.ok());
    CHECK(to_string(*cmd->action) == a);
  }
}

TEST_CASE("parse_command: refusals", "[status]") {
  for (std::string_view bad : {
           "member=t1&action=stop",                // no balancer
           "balancer=&member=t1&action=stop",      // empty balancer
           "balancer=lb&action=stop",              // member action without member
           "balancer=lb&factor=3",                 // factor without member
           "balancer=lb&member=t1",                // nothing to do
           "balancer=lb",                          // nothing to do
           "balancer=lb&member=t1&action=Stop",    // names are exact
           "balancer=lb&member=t1&action=delete",  // unknown action
           "balancer=lb&member=t1&action=",        // empty action
           "balancer=lb&member=t1&factor=0",       // factor bounds
           "balancer=lb&member=t1&factor=100001",
           "balancer=lb&member=t1&factor=-1",
           "balancer=lb&member=t1&factor=1.5",
           "balancer=lb&member=t1&factor=",
           "balancer=lb&member=t1&factor=99999999999999999999999",
           "balancer=lb&method=random",  // unknown method
           "balancer=lb&sticky_force=maybe",
           "balancer=lb&member=t1&action=stop&w_status_D=1",  // unknown field
           "balancer=lb%3Cx&member=t1&action=stop",           // invalid name
           "balancer=lb&member=t1%22&action=stop",
       }) {
    INFO(std::string(bad));
    CHECK_FALSE(command(bad).ok());
  }
  CHECK(command("balancer=lb&member=t1&action=delete").error().find("'delete'") != std::string::npos);
  CHECK(command("balancer=lb&member=t1&frob=1").error() == "unknown field 'frob'");
}

TEST_CASE("same_origin", "[status]") {
  CHECK(same_origin("", "example.org"));                     // absent header
  CHECK(same_origin("https://example.org", "example.org"));  // Origin
  CHECK(same_origin("https://Example.ORG", "example.org"));  // host case-insensitive
  CHECK(same_origin("http://example.org:8080", "example.org:8080"));
  CHECK(same_origin("http://example.org:8080/balancer-manager?x=1", "example.org:8080"));  // Referer
  CHECK(same_origin("http://example.org/a/b#frag", "example.org"));
  CHECK(same_origin("http://example.org?q", "example.org"));
  CHECK(same_origin("http://[::1]:8080/m", "[::1]:8080"));
  CHECK(same_origin("http://example.org", "example.org:80"));  // default ports
  CHECK(same_origin("https://example.org:443/x", "example.org"));
  CHECK(same_origin("http://user:pw@example.org/", "example.org"));
  CHECK(same_origin("http://example.org:080", "example.org:80"));  // the same port number
  CHECK(same_origin("http://example.org:0080", "example.org"));

  CHECK_FALSE(same_origin("null", "example.org"));                  // sandboxed/opaque origin
  CHECK_FALSE(same_origin("https://evil.example", "example.org"));  // other host
  CHECK_FALSE(same_origin("https://example.org.evil.example", "example.org"));
  CHECK_FALSE(same_origin("http://example.org:8081", "example.org:8080"));  // other port
  CHECK_FALSE(same_origin("http://example.org:8080", "example.org"));
  CHECK_FALSE(same_origin("http://example.org", "example.org:443"));  // not http's default
  CHECK_FALSE(same_origin("https://example.org", "example.org:80"));
  CHECK_FALSE(same_origin("http://example.org", ""));      // no Host
  CHECK_FALSE(same_origin("example.org", "example.org"));  // not a URL
  CHECK_FALSE(same_origin("//example.org", "example.org"));
  CHECK_FALSE(same_origin("http://", "example.org"));
  CHECK_FALSE(same_origin("http://example.org:80x", "example.org"));
  CHECK_FALSE(same_origin("http://evil.example/@example.org", "example.org"));
  CHECK_FALSE(same_origin("http://[::1]:8080", "[::2]:8080"));
  CHECK_FALSE(same_origin("http://[::1", "[::1]"));
  CHECK_FALSE(same_origin("http://example.org:99999", "example.org:99999"));  // not a port
}

TEST_CASE("nonce_matches", "[status]") {
  CHECK(nonce_matches("abc123", "abc123"));
  CHECK_FALSE(nonce_matches("abc123", "abc124"));
  CHECK_FALSE(nonce_matches("abc123", "Abc123"));
  CHECK_FALSE(nonce_matches("abc123", "abc12"));
  CHECK_FALSE(nonce_matches("abc123", "abc1234"));
  CHECK_FALSE(nonce_matches("abc123", ""));
  CHECK_FALSE(nonce_matches("", ""));
  CHECK_FALSE(nonce_matches("", "x"));
}

TEST_CASE("apply_command: activation actions", "[status]") {
  FakeTarget t;
  using config::Activation;
  CHECK(apply(t, "balancer=lb&member=t1&action=disable").ok());
  CHECK(activation(t, "t1") == as_u32(Activation::Disabled));
  CHECK(activation(t, "t2") == as_u32(Activation::Active));  // only the named member
  CHECK(apply(t, "balancer=lb&member=t1&action=stop").ok());
  CHECK(activation(t, "t1") == as_u32(Activation::Stopped));
  CHECK(apply(t, "balancer=lb&member=t1&action=standby").ok());
  CHECK(activation(t, "t1") == as_u32(Activation::Standby));
  const auto r = apply(t, "balancer=lb&member=t1&action=activate");
  CHECK(r.ok());
  CHECK(r.message == "lb/t1: active");
  CHECK(activation(t, "t1") == as_u32(Activation::Active));
}

TEST_CASE("apply_command: factor, alone or with an action", "[status]") {
  FakeTarget t;
  auto r = apply(t, "balancer=lb&member=t2&factor=42");
  CHECK(r.ok());
  CHECK(r.message == "lb/t2: factor 42");
  CHECK(t.slot("t2").factor.load() == 42);
  CHECK(t.slot("t1").factor.load() == 1);
  r = apply(t, "balancer=lb&member=t2&factor=100&action=disable");
  CHECK(r.ok());
  CHECK(r.message == "lb/t2: factor 100; disabled");
  CHECK(t.slot("t2").factor.load() == 100);

  // A hand-built command past the parser is still bounded.
  Command c;
  c.balancer = "lb";
  c.member = "t2";
  c.factor = 0;
  CHECK(apply_command(c, t).code == Code::Invalid);
  c.factor = 100001;
  CHECK(apply_command(c, t).code == Code::Invalid);
  CHECK(t.slot("t2").factor.load() == 100);
  Command empty;
  empty.balancer = "lb";
  CHECK(apply_command(empty, t).code == Code::Invalid);
}

TEST_CASE("apply_command: reset keeps busy and the drain clock", "[status]") {
  FakeTarget t;
  auto& s = t.slot("t1");
  s.busy = 4;
  s.requests = 10;
  for (auto& e : s.errors) e = 3;
  s.bytes_in = 100;
  s.bytes_out = 200;
  s.sticky_hits = 5;
  s.last_error_ms = 99;
  s.last_error_class = 2;
  s.last_sticky_ms = 77;
  s.lb_value = 1234;
  s.health = static_cast<std::uint32_t>(table::Health::Error);
  s.state_since_ms = 55;
  s.activation = as_u32(config::Activation::Disabled);
  s.factor = 9;
  t.slot("t2").requests = 8;

  CHECK(apply(t, "balancer=lb&member=t1&action=reset").ok());
  CHECK(s.requests.load() == 0);
  for (auto& e : s.errors) CHECK(e.load() == 0);
  CHECK(s.bytes_in.load() == 0);
  CHECK(s.bytes_out.load() == 0);
  CHECK(s.sticky_hits.load() == 0);
  CHECK(s.last_error_ms.load() == 0);
  CHECK(s.last_error_class.load() == 0);
  // Kept:
  CHECK(s.busy.load() == 4);
  CHECK(s.last_sticky_ms.load() == 77);
  CHECK(s.lb_value.load() == 1234);
  CHECK(s.health.load() == static_cast<std::uint32_t>(table::Health::Error));
  CHECK(s.state_since_ms.load() == 55);
  CHECK(s.activation.load() == as_u32(config::Activation::Disabled));
  CHECK(s.factor.load() == 9);
  CHECK(t.slot("t2").requests.load() == 8);
}

TEST_CASE("apply_command: recover asks for a probe now, it does not gamble a request", "[status]") {
  FakeTarget t;
  auto& s = t.slot("t1");
  s.health = static_cast<std::uint32_t>(table::Health::Error);
  s.state_since_ms = 5;
  s.last_probe_ms = 99999;
  auto r = apply(t, "balancer=lb&member=t1&action=recover");
  CHECK(r.ok());
  CHECK(r.message == "lb/t1: recovery probe requested");
  CHECK(s.health.load() == static_cast<std::uint32_t>(table::Health::Error));  // probes decide
  CHECK(s.state_since_ms.load() == 5);
  CHECK(s.last_probe_ms.load() == 0);  // due at once
}

TEST_CASE("apply_command: activate ramps a returning member up when a policy is known", "[status]") {
  struct PolicyTarget : FakeTarget {
    health::Policy policy;
    const health::Policy* health_policy(std::string_view) override { return &policy; }
  } t;
  auto& s = t.slot("t1");
  s.activation = static_cast<std::uint32_t>(config::Activation::Disabled);
  s.health = static_cast<std::uint32_t>(table::Health::Ok);
  CHECK(apply(t, "balancer=lb&member=t1&action=activate").ok());
  CHECK(s.health.load() == static_cast<std::uint32_t>(table::Health::Recovering));
  CHECK(s.state_since_ms.load() == 123456);
  // Activating an already active member does not restart its ramp.
  s.health = static_cast<std::uint32_t>(table::Health::Ok);
  CHECK(apply(t, "balancer=lb&member=t1&action=activate").ok());
  CHECK(s.health.load() == static_cast<std::uint32_t>(table::Health::Ok));
}

TEST_CASE("apply_command: balancer settings", "[status]") {
  FakeTarget t;
  auto r = apply(t, "balancer=lb&method=busyness&sticky_force=on");
  CHECK(r.ok());
  CHECK(r.message == "lb: method busyness; sticky force on");
  CHECK(t.method == config::Method::Busyness);
  CHECK(t.sticky_force == true);

  t.refuse = true;
  r = apply(t, "balancer=lb&member=t1&method=p2c&action=stop");
  CHECK(r.code == Code::Failed);
  CHECK(r.message == "refused");
  CHECK(activation(t, "t1") == as_u32(config::Activation::Active));  // member part not applied
}

TEST_CASE("apply_command: unknown balancer or member is NotFound and changes nothing", "[status]") {
  FakeTarget t;
  auto r = apply(t, "balancer=nope&member=t1&action=stop");
  CHECK(r.code == Code::NotFound);
  CHECK(r.message == "no balancer 'nope'");
  r = apply(t, "balancer=lb&member=t9&action=stop");
  CHECK(r.code == Code::NotFound);
  CHECK(r.message == "balancer 'lb' has no member 't9'");
  // The balancer part of a command naming an unknown member is not applied either.
  r = apply(t, "balancer=lb&member=t9&method=p2c");
  CHECK(r.code == Code::NotFound);
  CHECK_FALSE(t.method);
  CHECK(activation(t, "t1") == as_u32(config::Activation::Active));
  CHECK(activation(t, "t2") == as_u32(config::Activation::Active));
}

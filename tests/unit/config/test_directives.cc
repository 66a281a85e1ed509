// The directive table (directives.h) and the argument splitter httpd's config reader uses.
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "idmb/ajp_codec.h"
#include "idmb/config.h"
#include "idmb/directives.h"

using idmb::config::Arity;
using idmb::config::Directive;
using idmb::config::directives;
using idmb::config::find_directive;
using idmb::config::split_directive_args;
using idmb::config::Where;
using Words = std::vector<std::string>;

TEST_CASE("directives: every one once, in httpd's listing order", "[config][directives]") {
  std::vector<std::string_view> names;
  for (const Directive& d : directives()) names.emplace_back(d.name);
  CHECK(names == std::vector<std::string_view>{"<IdmBalancer",     "IdmMember",
                                               "IdmSticky",        "IdmMethod",
                                               "IdmSecret",        "IdmConnectTimeout",
                                               "IdmPingTimeout",   "IdmReplyTimeout",
                                               "IdmPingAfterIdle", "IdmPoolIdleTimeout",
                                               "IdmPoolSize",      "IdmHealthCheck",
                                               "IdmQueueTimeout",  "IdmRequestBodyBuffer",
                                               "IdmSlowStart",     "IdmPanicThreshold",
                                               "IdmPacketSize",    "IdmMount",
                                               "IdmUnmount",       "IdmDrainQuietTime",
                                               "IdmFailOnStatus",  "IdmEnvAttribute",
                                               "IdmEnvIndicator",  "IdmMountCopy",
                                               "IdmStripSession",  "IdmOutlierDetection",
                                               "IdmPingBeforePost"});
  std::set<std::string> lowered;
  for (std::string_view n : names) {
    std::string l(n);
    for (char& c : l) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    CHECK(lowered.insert(l).second);  // httpd matches names case-insensitively
  }
}

TEST_CASE("directives: where each is allowed and how its arguments are split", "[config][directives]") {
  for (const Directive& d : directives()) {
    INFO(d.name);
    CHECK(d.help.starts_with(d.name));
    if (d.name == "<IdmBalancer") {
      CHECK(d.where == Where::Section);
    } else if (d.name == "IdmMount" || d.name == "IdmUnmount") {
      CHECK(d.where == Where::Server);
      CHECK(d.arity == Arity::Two);  // outside <Location>; one argument inside
      CHECK(d.apply_in_location != nullptr);
    } else if (d.name == "IdmDrainQuietTime") {
      CHECK(d.where == Where::MainServer);
      CHECK(d.arity == Arity::One);
    } else if (d.name == "IdmEnvAttribute" || d.name == "IdmStripSession") {
      CHECK(d.where == Where::Server);
      CHECK(d.arity == Arity::Raw);
    } else if (d.name == "IdmEnvIndicator") {
      CHECK(d.where == Where::Server);
      CHECK(d.arity == Arity::Two);
    } else if (d.name == "IdmMountCopy") {
      CHECK(d.where == Where::Server);
      CHECK(d.arity == Arity::One);
    } else {
      CHECK(d.where == Where::Balancer);
      CHECK(d.arity == Arity::Raw);
      CHECK(d.apply_to_balancer != nullptr);
    }
    if (d.name != "IdmMount" && d.name != "IdmUnmount") CHECK(d.apply_in_location == nullptr);
  }
}

TEST_CASE("directives: the help states the bounds the parsers use", "[config][directives]") {
  const Directive* packet = find_directive("IdmPacketSize");
  REQUIRE(packet != nullptr);
  CHECK(packet->help.find(std::to_string(idmb::ajp::kMinPacketSize) + ".." +
                          std::to_string(idmb::ajp::kMaxPacketSize)) != std::string_view::npos);
  CHECK(idmb::config::kMinPacketSize == idmb::ajp::kMinPacketSize);
  CHECK(idmb::config::kMaxPacketSize == idmb::ajp::kMaxPacketSize);
}

TEST_CASE("find_directive: case-insensitive, unknown is null", "[config][directives]") {
  REQUIRE(find_directive("idmmember") != nullptr);
  CHECK(find_directive("idmmember")->name == "IdmMember");
  CHECK(find_directive("<idmbalancer") != nullptr);
  CHECK(find_directive("IdmRetries") == nullptr);
  CHECK(find_directive("") == nullptr);
}

TEST_CASE("apply_balancer_directive: what the table allows inside a section", "[config][directives]") {
  idmb::config::BalancerConfig b;
  REQUIRE(idmb::config::apply_balancer_directive(b, "idmmember", {"t1", "ajp://h:8009"}).ok());
  REQUIRE(b.members.size() == 1);
  CHECK(b.members[0].route == "t1");
  const auto refused = idmb::config::apply_balancer_directive(b, "IdmMember", {"t2"});
  REQUIRE_FALSE(refused.ok());
  CHECK(b.members.size() == 1);
  for (const char* outside : {"IdmMount", "IdmDrainQuietTime", "<IdmBalancer"}) {
    const auto s = idmb::config::apply_balancer_directive(b, outside, {"/a/*", "b"});
    REQUIRE_FALSE(s.ok());
    CHECK(s.error() == "unknown balancer directive '" + std::string(outside) + "'");
  }
}

TEST_CASE("split_directive_args: words, as httpd splits them", "[config][directives]") {
  CHECK(split_directive_args("") == Words{});
  CHECK(split_directive_args("   \t ") == Words{});
  CHECK(split_directive_args("a b\tc") == Words{"a", "b", "c"});
  CHECK(split_directive_args("  a   b  ") == Words{"a", "b"});
  CHECK(split_directive_args("a\r\n\v\fb") == Words{"a", "b"});
}

TEST_CASE("split_directive_args: quotes and backslashes", "[config][directives]") {
  CHECK(split_directive_args(R"("MY COOKIE" p)") == Words{"MY COOKIE", "p"});
  CHECK(split_directive_args(R"('a b' "c'd")") == Words{"a b", "c'd"});
  CHECK(split_directive_args(R"("a\"b" 'c\\d' e\\f)") == Words{"a\"b", "c\\d", "e\\f"});
  CHECK(split_directive_args(R"('a\'b' "a\'b")") == Words{"a'b", "a\\'b"});
  CHECK(split_directive_args(R"(a\"b)") == Words{"a\\\"b"});  // outside quotes only \\ is special
  CHECK(split_directive_args(R"("unclosed rest)") == Words{"unclosed rest"});
  CHECK(split_directive_args(R"("a"b c)") == Words{"a", "b", "c"});  // a quote ends the word
  CHECK(split_directive_args("x\\") == Words{"x\\"});
  CHECK(split_directive_args(R"("x\)") == Words{"x\\"});
}

TEST_CASE("split_directive_args: an empty word ends the arguments, a NUL the line", "[config][directives]") {
  CHECK(split_directive_args(R"(a "" b)") == Words{"a"});
  CHECK(split_directive_args(R"('' a)") == Words{});
  CHECK(split_directive_args(std::string_view("a b\0c d", 7)) == Words{"a", "b"});
}

TEST_CASE("directives: each has the apply function its place calls for", "[config][directives]") {
  for (const Directive& d : directives()) {
    CAPTURE(d.name);
    const bool balancer = d.apply_to_balancer != nullptr;
    const bool server = d.apply_to_server != nullptr;
    if (d.where == Where::Section) {
      CHECK((!balancer && !server));
    } else if (d.where == Where::Balancer) {
      CHECK((balancer && !server));
    } else {
      CHECK((!balancer && server));
    }
  }
}

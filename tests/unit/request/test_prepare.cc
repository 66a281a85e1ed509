// request::prepare: what may be forwarded, the body plan, the headers Tomcat sees.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "idmb/request_path.h"

using namespace idmb;
using forward::BodyPlan;

namespace {

struct Case {
  request::ClientHead head;
  ajp::ForwardRequest fr;
  request::Prepared prepared;
  Case() {
    head.method = "GET";
    fr.method = "GET";
    fr.uri = "/app/echo";
  }
  std::optional<request::Refusal> run() { return request::prepare(head, fr, prepared); }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& h : fr.headers) out.emplace_back(h.name);
    return out;
  }
  std::string value(std::string_view name) const {
    for (const auto& h : fr.headers) {
      if (h.name == name) return std::string(h.value);
    }
    return "<none>";
  }
};

}  // namespace

TEST_CASE("prepare: TRACE is refused with 405 only where TraceEnable is off", "[request]") {
  Case c;
  c.head.method = "TRACE";
  CHECK_FALSE(c.run());
  Case off;
  off.head.method = "TRACE";
  off.head.trace_disabled = true;
  auto refusal = off.run();
  REQUIRE(refusal);
  CHECK(refusal->status == 405);
}

TEST_CASE("prepare: the body plan follows the client's framing", "[request]") {
  SECTION("no body") {
    Case c;
    CHECK_FALSE(c.run());
    CHECK(c.prepared.body.kind == BodyPlan::Kind::None);
    CHECK(c.value("Content-Length") == "<none>");
  }
  SECTION("chunked, in any case") {
    Case c;
    c.head.transfer_encoding = "Chunked";
    c.fr.headers = {{"Transfer-Encoding", "Chunked"}};
    CHECK_FALSE(c.run());
    CHECK(c.prepared.body.kind == BodyPlan::Kind::Chunked);
    CHECK(c.names().empty());  // hop-by-hop, and Tomcat learns of the body by GET_BODY_CHUNK
  }
  SECTION("a Content-Length is re-set from the plan") {
    Case c;
    c.head.content_length = "0012345";
    c.fr.headers = {{"content-length", "0012345"}, {"Host", "h"}};
    CHECK_FALSE(c.run());
    CHECK(c.prepared.body.kind == BodyPlan::Kind::Length);
    CHECK(c.prepared.body.length == 12345);
    CHECK(c.names() == std::vector<std::string>{"Host", "Content-Length"});
    CHECK(c.value("Content-Length") == "12345");
  }
  SECTION("an explicit empty body stays explicit") {
    Case c;
    c.head.content_length = "0";
    c.fr.headers = {{"Content-Length", "0"}};
    CHECK_FALSE(c.run());
    CHECK(c.prepared.body.kind == BodyPlan::Kind::None);
    CHECK(c.value("Content-Length") == "0");
  }
}

TEST_CASE("prepare: bad framing is refused before anything is sent", "[request]") {
  struct Row {
    std::optional<std::string_view> te, cl;
    std::uint64_t limit;
    int status;
  };
  const Row rows[] = {
      {"gzip", std::nullopt, 0, 400},    {"chunked, gzip", std::nullopt, 0, 400},
      {std::nullopt, "-1", 0, 400},      {std::nullopt, "1 2", 0, 400},
      {std::nullopt, "", 0, 400},        {std::nullopt, "99999999999999999999999", 0, 400},
      {std::nullopt, "1001", 1000, 413},
  };
  for (const auto& row : rows) {
    Case c;
    c.head.transfer_encoding = row.te;
    c.head.content_length = row.cl;
    c.head.body_limit = row.limit;
    auto refusal = c.run();
    CAPTURE(row.te.value_or("-"), row.cl.value_or("-"));
    REQUIRE(refusal);
    CHECK(refusal->status == row.status);
    CHECK_FALSE(refusal->why.empty());
  }
  Case at_limit;
  at_limit.head.content_length = "1000";
  at_limit.head.body_limit = 1000;
  CHECK_FALSE(at_limit.run());
}

TEST_CASE("prepare: a path that cannot be forwarded is refused", "[request]") {
  Case c;
  c.fr.uri = "/app/a b";
  auto refusal = c.run();
  REQUIRE(refusal);
  CHECK(refusal->status == 400);
}

TEST_CASE("prepare: hop-by-hop headers go; a Connection-listed field only if the client sent it so", "[request]") {
  Case c;
  const std::vector<ajp::Header> listed = {{"X-Client", "mine"}, {"Host", "h"}, {"X-Auth", "forged"}};
  c.head.client_connection = "close, X-Client, Host, X-Auth";
  c.head.client_listed = listed;
  c.fr.headers = {{"Host", "h"},
                  {"Connection", "close, X-Client, Host, X-Auth"},
                  {"Keep-Alive", "5"},
                  {"X-Client", "mine"},
                  {"X-Auth", "set by httpd"},
                  {"Cookie", "a=1"}};
  CHECK_FALSE(c.run());
  // X-Client goes (the client's own hop-by-hop field); Host never; X-Auth was changed by httpd.
  CHECK(c.names() == std::vector<std::string>{"Host", "X-Auth", "Cookie"});
  CHECK(c.value("X-Auth") == "set by httpd");
}

// The manager's DNS-rebinding check: the Host header must name this server.
#include <catch2/catch.hpp>

#include "idmb/control.h"

using idmb::status::host_names_server;
using idmb::status::ServerNames;

TEST_CASE("manager Host check: the server's own names pass", "[control][host]") {
  ServerNames names{"idm.example.org", {"idm", "*.idm.example.org"}, "192.0.2.10"};
  for (const char* host : {"idm.example.org", "IDM.Example.ORG:8443", "idm.example.org.", "idm", "idm:80",
                           "node1.idm.example.org", "192.0.2.10", "192.0.2.10:8080", ""}) {
    CAPTURE(host);
    CHECK(host_names_server(host, names));
  }
}

TEST_CASE("manager Host check: a rebound or foreign name is refused", "[control][host]") {
  ServerNames names{"idm.example.org", {"*.idm.example.org"}, "192.0.2.10"};
  for (const char* host : {"evil.example", "evil.example:8080", "idm.example.org.evil.example", "192.0.2.11",
                           "localhost", "[::1]", "idm.example.org:x", ":80"}) {
    CAPTURE(host);
    CHECK_FALSE(host_names_server(host, names));
  }
}

TEST_CASE("manager Host check: localhost and loopback literals on a loopback connection", "[control][host]") {
  ServerNames v4{"idm.example.org", {}, "127.0.0.1"};
  CHECK(host_names_server("localhost:8080", v4));
  CHECK(host_names_server("127.0.0.1:8080", v4));
  CHECK_FALSE(host_names_server("127.0.0.2", v4));  // another loopback address: not where it came in
  ServerNames v6{"idm.example.org", {}, "::1"};
  CHECK(host_names_server("[::1]:8080", v6));
  CHECK(host_names_server("LOCALHOST", v6));
}

TEST_CASE("manager Host check: an IPv6 address in either case", "[control][host]") {
  ServerNames names{"idm.example.org", {}, "2001:db8::a"};
  CHECK(host_names_server("[2001:db8::a]", names));
  CHECK(host_names_server("[2001:DB8::A]:8443", names));
  CHECK_FALSE(host_names_server("[2001:db8::b]", names));
}

#include <catch2/catch.hpp>

#include "idmb/failure.h"

using namespace idmb;
using forward::Outcome;
using table::ErrorClass;

TEST_CASE("Outcomes map to error classes; client faults never blame a member", "[failure]") {
  struct Row {
    Outcome outcome;
    ErrorClass cls;
    bool blames;
  };
  const Row rows[] = {
      {Outcome::ConnectFailed, ErrorClass::Connect, true},
      {Outcome::CpingFailed, ErrorClass::Cping, true},
      {Outcome::LocalFailure, ErrorClass::Client, false},
      {Outcome::BackendClosed, ErrorClass::BackendClosed, true},
      {Outcome::BackendTimeout, ErrorClass::Timeout, true},
      {Outcome::ProtocolError, ErrorClass::Protocol, true},
      {Outcome::InvalidResponse, ErrorClass::Response, false},
      {Outcome::ClientBodyError, ErrorClass::Client, false},
      {Outcome::ClientAborted, ErrorClass::Client, false},
      {Outcome::RequestTooLarge, ErrorClass::Client, false},
      {Outcome::ClientBodyTooLarge, ErrorClass::Client, false},
      {Outcome::NewSessionRefused, ErrorClass::Client, false},
      {Outcome::Ok, ErrorClass::Client, false},
  };
  for (const auto& row : rows) {
    CAPTURE(forward::to_string(row.outcome));
    CHECK(failure::error_class(row.outcome) == row.cls);
    CHECK(failure::blames_member(row.outcome) == row.blames);
  }
}

TEST_CASE("Retry decisions by failure class and method", "[failure]") {
  forward::Result r;
  SECTION("nothing sent: any method may go elsewhere") {
    r.outcome = Outcome::ConnectFailed;
    CHECK(failure::may_retry(r, "POST"));
    CHECK(failure::may_retry(r, "GET"));
  }
  SECTION("sent, idempotent, no body consumed, nothing answered") {
    r.outcome = Outcome::BackendClosed;
    r.request_sent = true;
    CHECK(failure::may_retry(r, "GET"));
    CHECK(failure::may_retry(r, "PUT"));
    CHECK_FALSE(failure::may_retry(r, "POST"));
    CHECK_FALSE(failure::may_retry(r, "PATCH"));
  }
  SECTION("a refused response is not retried, even for GET: every member would answer alike") {
    r.outcome = Outcome::InvalidResponse;
    r.request_sent = true;
    CHECK_FALSE(failure::may_retry(r, "GET"));
  }
  SECTION("a reply timeout is not retried, even for GET") {
    r.outcome = Outcome::BackendTimeout;
    r.request_sent = true;
    CHECK_FALSE(failure::may_retry(r, "GET"));
  }
  SECTION("sent with a consumed body: never replayed") {
    r.outcome = Outcome::BackendClosed;
    r.request_sent = true;
    r.body_consumed = true;
    CHECK_FALSE(failure::may_retry(r, "PUT"));
  }
  SECTION("response already started") {
    r.outcome = Outcome::BackendClosed;
    r.request_sent = true;
    r.response_started = true;
    CHECK_FALSE(failure::may_retry(r, "GET"));
  }
  SECTION("a refused new session goes elsewhere: the exchange refuses only replayable requests") {
    r.outcome = Outcome::NewSessionRefused;
    r.request_sent = true;
    CHECK(failure::may_retry(r, "GET"));
  }
  SECTION("client faults are not retried") {
    r.outcome = Outcome::ClientBodyError;
    CHECK_FALSE(failure::may_retry(r, "GET"));
  }
}

TEST_CASE("403 with the connection closed looks like a refused AJP secret", "[failure]") {
  forward::Result r;
  r.status = 403;
  CHECK(failure::looks_like_secret_refusal(r));
  r.reuse_connection = true;  // an application's 403 keeps the connection
  CHECK_FALSE(failure::looks_like_secret_refusal(r));
  r.reuse_connection = false;
  r.status = 404;
  CHECK_FALSE(failure::looks_like_secret_refusal(r));
  r.status = 403;
  r.outcome = Outcome::BackendClosed;
  CHECK_FALSE(failure::looks_like_secret_refusal(r));
}

TEST_CASE("Only idempotent requests without a body may run on a second member", "[failure]") {
  CHECK(failure::replayable("GET", false));
  CHECK(failure::replayable("HEAD", false));
  CHECK(failure::replayable("DELETE", false));
  CHECK_FALSE(failure::replayable("PUT", true));
  CHECK_FALSE(failure::replayable("POST", false));
  CHECK_FALSE(failure::replayable("get", false));  // methods are case-sensitive
}

// request::forward with doubles for the pools, the client, time and the log: every failure
// class x method x body state x response state, the stale-connection retry, the CPING policy,
// the queue wait and the new-session refusal of a disabled member.
#include <catch2/catch.hpp>

#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "idmb/latency.h"
#include "idmb/request_path.h"
#include "support/fake_sources.h"
#include "support/fake_streams.h"

using namespace idmb;
using namespace idmb::test;
using forward::BodyPlan;
using forward::IoStatus;

namespace {

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes all;
  for (const auto& p : parts) all.insert(all.end(), p.begin(), p.end());
  return all;
}

Bytes ok_reply(const std::string& body = "hello", bool reuse = true,
               std::vector<std::pair<std::string, std::string>> headers = {}) {
  return concat({send_headers(200, headers), body_chunk(body), end_response(reuse)});
}

// What a member saw: FORWARD_REQUESTs and CPINGs, over all its connections.
struct MemberLog {
  int requests = 0;
  int cpings = 0;
  int connects = 0;
  int kept = 0;
  int cleared = 0;
  std::vector<Bytes> writes;  // every write, in order
};

// A scripted connection that reports to its member's log (the stream itself is owned by the
// code under test and may be gone when the test looks).
class Connection final : public forward::BackendStream {
 public:
  Connection(MemberLog& log, Bytes reply, IoStatus when_drained) : log_(log) {
    backend_.reply_after_write(0, reply);
    backend_.when_drained = when_drained;
  }
  // For a connection that first gets a CPING: its CPONG (or nothing), then the reply.
  Connection(MemberLog& log, bool answers_cping, Bytes reply) : log_(log) {
    if (answers_cping) backend_.reply_after_write(0, cpong());
    backend_.reply_after_write(answers_cping ? 1 : 0, reply);
    backend_.when_drained = answers_cping ? IoStatus::Eof : IoStatus::Timeout;
  }
  IoStatus write_all(std::span<const std::uint8_t> data) override {
    if (data.size() > 4 && data[4] == 0x02) ++log_.requests;
    if (data.size() > 4 && data[4] == 0x0A) ++log_.cpings;
    if (data.size() > 9 && data[4] == 0x0A && data[9] == 0x02) ++log_.requests;  // behind a CPING
    log_.writes.emplace_back(data.begin(), data.end());
    return backend_.write_all(data);
  }
  IoStatus read_exact(std::span<std::uint8_t> out) override { return backend_.read_exact(out); }
  void set_timeout_ms(std::uint32_t ms) override { backend_.set_timeout_ms(ms); }

 private:
  MemberLog& log_;
  FakeBackend backend_;
};

struct Pooled {
  std::unique_ptr<forward::BackendStream> connection;
  std::uint64_t idle_ms = 0;
};

class Backends final : public request::Backends {
 public:
  std::unique_ptr<forward::BackendStream> take_pooled(int m, std::uint64_t& idle_ms) override {
    auto& pool = pooled[m];
    if (pool.empty()) return nullptr;
    Pooled p = std::move(pool.front());
    pool.pop_front();
    idle_ms = p.idle_ms;
    return std::move(p.connection);
  }
  std::unique_ptr<forward::BackendStream> connect(int m, std::string& error, bool& local) override {
    ++log[m].connects;
    auto& queue = fresh[m];
    if (queue.empty()) {
      error = "Connection refused";
      local = local_failure;
      return nullptr;
    }
    auto c = std::move(queue.front());
    queue.pop_front();
    return c;
  }
  void keep(int m, std::unique_ptr<forward::BackendStream>) override { ++log[m].kept; }
  void clear_pool(int m) override {
    ++log[m].cleared;
    pooled[m].clear();
  }

  // A new connection to `m` that answers `reply`, then reads `when_drained`.
  void will_answer(int m, Bytes reply, IoStatus when_drained = IoStatus::Eof) {
    fresh[m].push_back(std::make_unique<Connection>(log[m], std::move(reply), when_drained));
  }
  void pool(int m, std::uint64_t idle_ms, std::unique_ptr<forward::BackendStream> c) {
    pooled[m].push_back({std::move(c), idle_ms});
  }

  std::map<int, std::deque<std::unique_ptr<forward::BackendStream>>> fresh;
  std::map<int, std::deque<Pooled>> pooled;
  std::map<int, MemberLog> log;
  bool local_failure = false;
};

class Client final : public request::Client {
 public:
  explicit Client(std::string body = {}) : inner(std::move(body)) {}
  Read read_body(std::span<std::uint8_t> out) override { return inner.read_body(out); }
  bool send_headers(const ajp::SendHeaders& h, std::optional<std::uint64_t> length) override {
    return inner.send_headers(h, length);
  }
  bool send_body(std::span<const std::uint8_t> data) override { return inner.send_body(data); }
  bool send_pending() override { return inner.send_pending(); }
  bool flush() override { return inner.flush(); }
  IoStatus prefetch_body(std::size_t limit) override {
    prefetch_limit = limit;
    return prefetch_status;
  }
  bool rewind_body() override {
    ++rewound;
    if (rewindable) inner.restart_body();
    return rewindable;
  }
  void finish() override { ++finished; }
  void forget_response() override {
    ++forgotten;
    inner.received.clear();
  }
  void abort_response() override { ++aborted; }

  FakeClient inner;
  IoStatus prefetch_status = IoStatus::Ok;
  std::size_t prefetch_limit = 0;
  int finished = 0;
  int rewound = 0;
  bool rewindable = true;  // the body read so far came from the prefetch
  int forgotten = 0;
  int aborted = 0;
};

class Env final : public request::Env, public log::Sink {
 public:
  std::int64_t monotonic_ms() override { return now; }
  std::int64_t wall_ms() override { return 1'000'000 + now; }
  // The response-time clock: each reading is `us_step` after the one before.
  std::int64_t monotonic_us() override { return us += us_step; }
  void summary(const request::Summary& s) override { summaries.push_back(s); }
  void sleep_ms(std::uint32_t ms) override {
    now += ms;
    slept += ms;
    if (on_sleep) on_sleep();
  }
  std::string_view member_label(int m) override {
    label = "m" + std::to_string(m) + " (127.0.0.1:800" + std::to_string(m) + ")";
    return label;
  }
  std::string_view secret_of(int) override { return "s3cret"; }
  void chose(int m, const balance::Choice& choice) override {
    chosen.push_back({m, choice.sticky, choice.route_changed});
  }
  void transition(int m, const health::Transition& t) override {
    if (t.changed) transitions.push_back(m);
  }
  void secret_refused(int m) override { refused_secret.push_back(m); }
  void retry_after(std::uint32_t s) override { retry_after_s = s; }
  bool enabled(log::Level) const override { return true; }
  void write(log::Level level, std::string_view message) override { lines.push_back({level, std::string(message)}); }

  bool logged(log::Level level, std::string_view text) const {
    for (const auto& [l, m] : lines) {
      if (l == level && m.find(text) != std::string::npos) return true;
    }
    return false;
  }

  struct Chosen {
    int member;
    bool sticky;
    bool route_changed;
  };
  std::int64_t now = 0;
  std::int64_t us = 0;
  std::int64_t us_step = 0;
  std::vector<request::Summary> summaries;
  std::uint32_t slept = 0;
  std::function<void()> on_sleep;
  std::string label;
  std::vector<Chosen> chosen;
  std::vector<int> transitions;
  std::vector<int> refused_secret;
  std::uint32_t retry_after_s = 0;
  std::vector<std::pair<log::Level, std::string>> lines;
};

// Two (or more) members m0, m1, ... with routes r0, r1, ...; requests balancing.
class Rig {
 public:
  explicit Rig(int members = 2) : slots_(std::make_unique<table::MemberSlot[]>(static_cast<std::size_t>(members))) {
    cfg.name = "app";
    cfg.queue_timeout_ms = 100;
    cfg.ping_after_idle_ms = 1000;
    // The scripted replies carry no CPONG; the CPING ahead of a POST has tests of its own.
    cfg.ping_before_post = false;
    std::vector<table::MemberSlot*> pointers;
    for (int i = 0; i < members; ++i) {
      config::MemberConfig m;
      m.name = "m" + std::to_string(i);
      m.route = "r" + std::to_string(i);
      cfg.members.push_back(m);
      table::MemberSlot& s = slots_[static_cast<std::size_t>(i)];
      std::strncpy(s.route, m.route.c_str(), sizeof s.route - 1);
      s.activation = static_cast<std::uint32_t>(config::Activation::Active);
      s.factor = 1;
      s.health = static_cast<std::uint32_t>(table::Health::Ok);
      pointers.push_back(&s);
    }
    chooser = std::make_unique<balance::Balancer>(cfg, std::move(pointers), random, clock);
    request.method = "GET";
    request.protocol = "HTTP/1.1";
    request.uri = "/app/echo";
    request.remote_addr = "127.0.0.1";
    request.server_name = "localhost";
    request.server_port = 80;
  }

  table::MemberSlot& slot(int i) { return slots_[static_cast<std::size_t>(i)]; }
  // Counted toward taking the member out (health.h), or already out.
  bool blamed(int i) {
    return slot(i).consecutive_failures > 0 || slot(i).health != static_cast<std::uint32_t>(table::Health::Ok);
  }
  std::uint64_t errors(int i) {
    std::uint64_t n = 0;
    for (const auto& e : slot(i).errors) n += e.load();
    return n;
  }

  int run(std::string_view method = "GET", BodyPlan body = {}, std::vector<std::string_view> routes = {}) {
    request.method = method;
    prepared.body = body;
    plan.method = method;
    plan.session_routes = std::move(routes);
    packet.assign(cfg.packet_size, 0);
    return request::forward(cfg, *chooser, request, prepared, plan, {backends, client, env, env}, packet);
  }

  config::BalancerConfig cfg;
  SeededRandom random{7};
  ManualClock clock{1000};
  std::unique_ptr<balance::Balancer> chooser;
  ajp::ForwardRequest request;
  request::Prepared prepared;
  request::Plan plan;
  std::vector<std::uint8_t> packet;
  Backends backends;
  Client client;
  Env env;

 private:
  std::unique_ptr<table::MemberSlot[]> slots_;
};

BodyPlan length_body(std::uint64_t n) { return {BodyPlan::Kind::Length, n}; }

}  // namespace

TEST_CASE("request path: a good answer is relayed, the connection pooled, nothing retried", "[request]") {
  Rig rig;
  rig.backends.will_answer(0, ok_reply("hi"));
  rig.backends.will_answer(1, ok_reply("hi"));
  CHECK(rig.run() == request::kHandled);
  REQUIRE(rig.env.chosen.size() == 1);
  const int m = rig.env.chosen[0].member;
  CHECK(rig.client.inner.received == "hi");
  CHECK(rig.client.finished == 1);
  CHECK(rig.backends.log[m].kept == 1);
  CHECK(rig.backends.log[m].requests == 1);
  CHECK(rig.backends.log[1 - m].requests == 0);
  CHECK(rig.slot(m).busy == 0);
  CHECK(rig.slot(m).requests == 1);
  CHECK(rig.request.secret == std::optional<std::string_view>("s3cret"));
  CHECK(rig.client.prefetch_limit == 0);  // no body: nothing read ahead
}

TEST_CASE("request path: held response bytes reach the client before each wait on the backend", "[request]") {
  Rig rig;
  rig.backends.will_answer(0, ok_reply("hi"));
  rig.backends.will_answer(1, ok_reply("hi"));
  CHECK(rig.run() == request::kHandled);
  // The exchange asks before every packet it waits for (this backend never has one buffered);
  // the request path's own client wrapper must pass that on, not swallow it.
  REQUIRE(rig.client.inner.pending_at.size() >= 2);
  CHECK(rig.client.inner.pending_at.front() == 0);
  CHECK(rig.client.inner.pending_at.back() == 2);  // before END_RESPONSE, after "hi"
}

// The matrix: one member fails in a given way, the other would answer. Is the request tried
// there, what does the client get, and is the first member blamed?
TEST_CASE("request path: failure class x method x body", "[request]") {
  enum class Fault { Refused, Local, Closed, Timeout, Garbage, Invalid, ClosedMidBody };
  struct Row {
    Fault fault;
    const char* method;
    bool body;
    bool retried;
    int status;
    bool blamed;
  };
  const Row rows[] = {
      // Nothing reached Tomcat: any method goes elsewhere.
      {Fault::Refused, "GET", false, true, 0, true},
      {Fault::Refused, "POST", true, true, 0, true},
      // This process could not even try: not the member's fault, and not retried.
      {Fault::Local, "GET", false, false, 503, false},
      // Closed before answering: again only if idempotent and no body byte was consumed.
      {Fault::Closed, "GET", false, true, 0, true},
      {Fault::Closed, "PUT", false, true, 0, true},
      {Fault::Closed, "PUT", true, false, 502, true},
      {Fault::Closed, "POST", false, false, 502, true},
      {Fault::Closed, "POST", true, false, 502, true},
      // A reply timeout is never retried.
      {Fault::Timeout, "GET", false, false, 504, true},
      {Fault::Timeout, "POST", true, false, 504, true},
      // Bytes that are not AJP: the member is broken.
      {Fault::Garbage, "GET", false, true, 0, true},
      {Fault::Garbage, "POST", true, false, 502, true},
      // A response the module refuses is the request's, not the member's.
      {Fault::Invalid, "GET", false, false, 502, false},
      {Fault::Invalid, "POST", true, false, 502, false},
      // Once bytes went to the client nothing is retried: the response is cut short.
      {Fault::ClosedMidBody, "GET", false, false, 0, true},
  };
  for (const Row& row : rows) {
    CAPTURE(static_cast<int>(row.fault), row.method, row.body);
    Rig rig;
    rig.chooser->slot(1).lb_value = 1u << 30;  // m0 is the first choice
    rig.client = Client(row.body ? std::string(100, 'b') : std::string());
    switch (row.fault) {
      case Fault::Refused: break;  // no connection scripted for m0
      case Fault::Local: rig.backends.local_failure = true; break;
      case Fault::Closed: rig.backends.will_answer(0, {}, IoStatus::Eof); break;
      case Fault::Timeout: rig.backends.will_answer(0, {}, IoStatus::Timeout); break;
      case Fault::Garbage: rig.backends.will_answer(0, {'X', 'Y', 0, 1, 0}); break;
      case Fault::Invalid: rig.backends.will_answer(0, ok_reply("", true, {{"X-Bad", "a\r\nb"}})); break;
      case Fault::ClosedMidBody:
        rig.backends.will_answer(0, concat({send_headers(200, {}), body_chunk("part")}), IoStatus::Eof);
        break;
    }
    rig.backends.will_answer(1, ok_reply("fine"));
    const int status = rig.run(row.method, row.body ? length_body(100) : BodyPlan{});
    CHECK(status == row.status);
    CHECK((rig.backends.log[1].requests == 1) == row.retried);
    CHECK(rig.errors(0) == 1);  // counted once, in its class
    CHECK(rig.blamed(0) == row.blamed);
    if (row.retried) {
      CHECK(rig.client.inner.received == "fine");
      CHECK(rig.client.forgotten >= 1);
    }
    CHECK(rig.client.aborted == (row.fault == Fault::ClosedMidBody ? 1 : 0));
    CHECK(rig.slot(0).busy == 0);
    CHECK(rig.slot(1).busy == 0);
    if (row.body) CHECK(rig.client.prefetch_limit == 100);
    // Every failure names the member, its address and the cause, at a level by its blame.
    const log::Level level = row.blamed                    ? log::Level::Error
                             : row.fault == Fault::Invalid ? log::Level::Warning
                                                           : log::Level::Info;
    CHECK(rig.env.logged(level, "member m0 (127.0.0.1:8000) of balancer app: "));
  }
}

TEST_CASE("request path: a stale pooled connection is retried once on a new one, blaming nobody", "[request]") {
  Rig rig(1);
  rig.backends.pool(0, 10, std::make_unique<Connection>(rig.backends.log[0], Bytes{}, IoStatus::Eof));
  rig.backends.will_answer(0, ok_reply("fresh"));
  CHECK(rig.run() == request::kHandled);
  CHECK(rig.client.inner.received == "fresh");
  CHECK(rig.backends.log[0].requests == 2);
  CHECK(rig.backends.log[0].connects == 1);
  CHECK(rig.backends.log[0].cpings == 0);  // idle 10 ms < IdmPingAfterIdle
  CHECK_FALSE(rig.blamed(0));
  CHECK(rig.env.logged(log::Level::Debug, "pooled connection failed"));

  SECTION("but not for a POST, which may have run") {
    Rig post(1);
    post.client = Client("abc");
    post.backends.pool(0, 10, std::make_unique<Connection>(post.backends.log[0], Bytes{}, IoStatus::Eof));
    post.backends.will_answer(0, ok_reply("fresh"));
    CHECK(post.run("POST", length_body(3)) == 502);
    CHECK(post.backends.log[0].requests == 1);
  }
}

TEST_CASE("request path: CPING after idle, and a fresh start when it fails", "[request]") {
  SECTION("an idle pooled connection that answers CPING is used") {
    Rig rig(1);
    rig.backends.pool(0, 5000, std::make_unique<Connection>(rig.backends.log[0], true, ok_reply("pooled")));
    CHECK(rig.run() == request::kHandled);
    CHECK(rig.client.inner.received == "pooled");
    CHECK(rig.backends.log[0].cpings == 1);
    CHECK(rig.backends.log[0].connects == 0);
  }
  SECTION("one that does not: the pool is cleared and a new connection is CPINGed first") {
    Rig rig(1);
    rig.backends.pool(0, 5000, std::make_unique<Connection>(rig.backends.log[0], false, Bytes{}));
    rig.backends.fresh[0].push_back(std::make_unique<Connection>(rig.backends.log[0], true, ok_reply("new")));
    CHECK(rig.run() == request::kHandled);
    CHECK(rig.client.inner.received == "new");
    CHECK(rig.backends.log[0].cleared == 1);
    CHECK(rig.backends.log[0].cpings == 2);
    CHECK(rig.env.logged(log::Level::Info, "idle connection failed CPING"));
  }
  SECTION("if the new one does not answer either, the member is at fault and the request moves") {
    Rig rig;
    rig.chooser->slot(1).lb_value = 1u << 30;
    rig.backends.pool(0, 5000, std::make_unique<Connection>(rig.backends.log[0], false, Bytes{}));
    rig.backends.fresh[0].push_back(std::make_unique<Connection>(rig.backends.log[0], false, Bytes{}));
    rig.backends.will_answer(1, ok_reply("other"));
    rig.client = Client("x");
    CHECK(rig.run("POST", length_body(1)) == request::kHandled);  // nothing was sent: even a POST moves
    CHECK(rig.client.inner.received == "other");
    CHECK(rig.blamed(0));
    CHECK(rig.backends.log[0].requests == 0);
  }
}

TEST_CASE("request path: a POST goes out behind a CPING; closed before the CPONG, it moves with its body",
          "[request]") {
  Rig rig;
  rig.cfg.ping_before_post = true;
  rig.chooser->slot(1).lb_value = 1u << 30;  // m0 first
  rig.client = Client("abc");
  // m0's pooled connection is closed by a stopping Tomcat: nothing read, no CPONG.
  rig.backends.pool(0, 10, std::make_unique<Connection>(rig.backends.log[0], Bytes{}, IoStatus::Eof));

  SECTION("a new connection to the same member answers") {
    rig.backends.fresh[0].push_back(
        std::make_unique<Connection>(rig.backends.log[0], concat({cpong(), ok_reply("ran once")}), IoStatus::Eof));
    CHECK(rig.run("POST", length_body(3)) == request::kHandled);
    CHECK(rig.client.inner.received == "ran once");
    CHECK(rig.client.rewound == 1);
    // CPING + request + body in one write, and again on the new connection, body and all.
    REQUIRE(rig.backends.log[0].writes.size() == 2);
    CHECK(rig.backends.log[0].writes[0] == rig.backends.log[0].writes[1]);
    const Bytes& again = rig.backends.log[0].writes[1];
    CHECK(again[4] == 0x0A);
    CHECK(std::string(again.end() - 3, again.end()) == "abc");
  }
  SECTION("the member is gone: another one answers") {
    rig.backends.will_answer(1, concat({cpong(), ok_reply("other")}));
    CHECK(rig.run("POST", length_body(3)) == request::kHandled);
    CHECK(rig.client.inner.received == "other");
    CHECK(rig.blamed(0));
  }
  SECTION("a body that went past what was prefetched is not resent: 503") {
    rig.client.rewindable = false;
    rig.backends.will_answer(1, concat({cpong(), ok_reply("other")}));
    CHECK(rig.run("POST", length_body(3)) == 503);
    CHECK(rig.backends.log[1].requests == 0);
  }
}

TEST_CASE("request path: a POST whose CPING was answered is never sent again", "[request]") {
  Rig rig;
  rig.cfg.ping_before_post = true;
  rig.chooser->slot(1).lb_value = 1u << 30;
  rig.client = Client("abc");
  rig.backends.pool(0, 10, std::make_unique<Connection>(rig.backends.log[0], cpong(), IoStatus::Eof));
  rig.backends.will_answer(1, concat({cpong(), ok_reply("twice")}));
  CHECK(rig.run("POST", length_body(3)) == 502);
  CHECK(rig.backends.log[1].requests == 0);
  CHECK(rig.client.rewound == 0);
}

TEST_CASE("request path: the CPING leads only requests that cannot be replayed", "[request]") {
  Rig rig(1);
  rig.cfg.ping_before_post = true;
  rig.backends.will_answer(0, ok_reply("get"));
  CHECK(rig.run("GET") == request::kHandled);
  CHECK(rig.backends.log[0].cpings == 0);
  rig.backends.will_answer(0, ok_reply("put"));
  rig.client = Client("abc");
  CHECK(rig.run("PUT", length_body(3)) == request::kHandled);  // idempotent: may be sent again anyway
  CHECK(rig.backends.log[0].cpings == 0);
  rig.backends.will_answer(0, concat({cpong(), ok_reply("patch")}));
  rig.client = Client("abc");
  CHECK(rig.run("PATCH", length_body(3)) == request::kHandled);
  CHECK(rig.backends.log[0].cpings == 1);
  const Bytes& write = rig.backends.log[0].writes.back();  // CPING, request and body together
  CHECK(std::string(write.end() - 3, write.end()) == "abc");
}

TEST_CASE("request path: a stopping Tomcat's 503 sends a GET to another member, never a POST", "[request]") {
  const Bytes stopping = concat({send_headers(503, {}), end_response(false)});
  Rig rig;
  rig.chooser->slot(1).lb_value = 1u << 30;  // m0 first
  rig.backends.will_answer(0, stopping);
  rig.backends.will_answer(1, ok_reply("elsewhere"));
  CHECK(rig.run("GET") == request::kHandled);
  CHECK(rig.client.inner.received == "elsewhere");
  CHECK(rig.client.forgotten == 1);  // the 503's headers never reach the client
  CHECK(rig.errors(0) == 1);         // counted as a fail_status fault
  CHECK(rig.env.logged(log::Level::Error, "member m0 (127.0.0.1:8000) of balancer app: Tomcat is stopping"));

  SECTION("a POST it may not have run stays where it was: 503") {
    Rig post;
    post.chooser->slot(1).lb_value = 1u << 30;
    post.client = Client("abc");
    post.backends.will_answer(0, stopping);
    post.backends.will_answer(1, ok_reply("twice"));
    CHECK(post.run("POST", length_body(3)) == 503);
    CHECK(post.backends.log[1].requests == 0);
  }
}

TEST_CASE("request path: every member failing ends with the last failure's status", "[request]") {
  Rig rig;
  CHECK(rig.run() == 503);
  CHECK(rig.env.logged(log::Level::Error, "balancer app: no usable member (2 tried)"));
  CHECK(rig.env.transitions.size() == 2);  // each taken out at once, and reported
  CHECK(rig.slot(0).health == static_cast<std::uint32_t>(table::Health::Error));
  CHECK(rig.slot(1).health == static_cast<std::uint32_t>(table::Health::Error));
}

TEST_CASE("request path: a full member makes the request wait, then 503 with Retry-After", "[request]") {
  Rig rig(1);
  rig.cfg.members[0].max_busy = 1;
  rig.slot(0).busy = 1;
  rig.backends.will_answer(0, ok_reply());
  SECTION("no place frees up") {
    CHECK(rig.run() == 503);
    CHECK(rig.env.retry_after_s == 1);
    CHECK(rig.env.slept >= rig.cfg.queue_timeout_ms);
    CHECK(rig.env.slept <= rig.cfg.queue_timeout_ms + 10);
    CHECK(rig.env.logged(log::Level::Warning, "balancer app: every member is at its max= limit for 100 ms"));
    CHECK(rig.slot(0).busy == 1);  // the waiting request took nothing
  }
  SECTION("a sticky request whose member is full waits for that member") {
    Rig two;
    two.cfg.members[1].max_busy = 1;
    two.slot(1).busy = 1;
    CHECK(two.run("GET", {}, {"r1"}) == 503);
    CHECK(two.env.logged(log::Level::Warning, "balancer app: m1 at its max= limit for 100 ms"));
    CHECK(two.backends.log[0].requests == 0);
  }
  SECTION("a place frees up while it waits") {
    rig.env.on_sleep = [&] {
      if (rig.env.slept >= 30) rig.slot(0).busy = 0;
    };
    CHECK(rig.run() == request::kHandled);
    CHECK(rig.env.slept == 30);
    CHECK(rig.slot(0).busy == 0);
  }
}

TEST_CASE("request path: sessions", "[request]") {
  const std::vector<std::string_view> to_r1 = {"r1"};
  SECTION("a live session's answer stamps the drain clock") {
    Rig rig;
    rig.backends.will_answer(1, ok_reply());
    CHECK(rig.run("GET", {}, to_r1) == request::kHandled);
    REQUIRE(rig.env.chosen.size() == 1);
    CHECK(rig.env.chosen[0].member == 1);
    CHECK(rig.env.chosen[0].sticky);
    CHECK(rig.slot(1).last_sticky_ms == 1000);
  }
  SECTION("forced stickiness to a member that cannot take it: 503") {
    Rig rig;
    rig.cfg.sticky.force = true;
    rig.slot(1).health = static_cast<std::uint32_t>(table::Health::Error);
    CHECK(rig.run("GET", {}, to_r1) == 503);
    CHECK(rig.env.logged(log::Level::Warning, "session route r1 is unavailable and sticky sessions are forced"));
  }
  const Bytes new_session = ok_reply("made", true, {{"Set-Cookie", "JSESSIONID=NEW.r1; Path=/app"}});
  SECTION("a disabled member's new session for a GET is refused; an active member gets it") {
    Rig rig;
    rig.slot(1).activation = static_cast<std::uint32_t>(config::Activation::Disabled);
    rig.backends.will_answer(1, new_session);
    rig.backends.will_answer(0, ok_reply("active"));
    CHECK(rig.run("GET", {}, to_r1) == request::kHandled);
    CHECK(rig.client.inner.received == "active");
    REQUIRE(rig.env.chosen.size() == 2);
    CHECK(rig.env.chosen[0].member == 1);
    CHECK(rig.env.chosen[1].member == 0);
    CHECK(rig.env.chosen[1].route_changed);
    CHECK_FALSE(rig.blamed(1));
    CHECK(rig.errors(1) == 0);
    CHECK(rig.slot(1).last_sticky_ms == 0);  // not a live session: the drain clock stays
    CHECK(rig.env.logged(log::Level::Info, "member m1 of balancer app is disabled and opened a new session"));
  }
  SECTION("a POST cannot run twice: the disabled member's answer is delivered, not counted as live") {
    Rig rig;
    rig.client = Client("x=1");
    rig.slot(1).activation = static_cast<std::uint32_t>(config::Activation::Disabled);
    rig.backends.will_answer(1, new_session);
    CHECK(rig.run("POST", length_body(3), to_r1) == request::kHandled);
    CHECK(rig.client.inner.received == "made");
    CHECK(rig.slot(1).last_sticky_ms == 0);
    CHECK(rig.backends.log[0].requests == 0);
  }
  SECTION("an active member's new session is just a new session") {
    Rig rig;
    rig.backends.will_answer(1, new_session);
    CHECK(rig.run("GET", {}, to_r1) == request::kHandled);
    CHECK(rig.client.inner.received == "made");
  }
}

TEST_CASE("request path: the body is read ahead before anything is chosen", "[request]") {
  Rig rig(1);
  rig.cfg.request_body_buffer = 65536;
  rig.client.prefetch_status = IoStatus::TooLarge;
  CHECK(rig.run("POST", length_body(100000)) == 413);
  CHECK(rig.client.prefetch_limit == 65536);
  CHECK(rig.env.chosen.empty());
  CHECK(rig.slot(0).requests == 0);
  rig.client.prefetch_status = IoStatus::Error;
  CHECK(rig.run("POST", {BodyPlan::Kind::Chunked, 0}) == 400);
  CHECK(rig.env.logged(log::Level::Info, "refusing client request: request body"));
  rig.cfg.request_body_buffer = 0;
  rig.client.prefetch_status = IoStatus::Ok;
  rig.backends.will_answer(0, ok_reply());
  rig.client = Client(std::string(20000, 'z'));
  rig.run("POST", length_body(20000));
  CHECK(rig.client.prefetch_limit == ajp::max_request_body_chunk(rig.cfg.packet_size));
}

TEST_CASE("request path: a refused AJP secret is reported once", "[request]") {
  Rig rig(1);
  for (int i = 0; i < 3; ++i) {
    rig.backends.will_answer(0, concat({send_headers(403, {}), end_response(false)}));
    CHECK(rig.run() == request::kHandled);
  }
  CHECK(rig.env.refused_secret == std::vector<int>{0});
  CHECK(rig.slot(0).secret_refused_ms > 0);
  CHECK(rig.backends.log[0].kept == 0);  // reuse=0: closed
}

TEST_CASE("request path: HEAD discards the body Tomcat sends", "[request]") {
  Rig rig(1);
  rig.plan.head_only = true;
  rig.backends.will_answer(0, ok_reply("not for HEAD"));
  CHECK(rig.run("HEAD") == request::kHandled);
  CHECK(rig.client.inner.received.empty());
  CHECK(rig.client.inner.status == 200);
}

TEST_CASE("request path: IdmFailOnStatus fails over, blaming the member for CODE, not for -CODE", "[request]") {
  const int listed = GENERATE(503, -503);
  CAPTURE(listed);
  Rig rig;
  rig.cfg.fail_on_status = {404, listed};
  const Bytes unavailable = concat({send_headers(503, {}), body_chunk("down"), end_response(true)});

  SECTION("an idempotent request goes to another member") {
    rig.backends.will_answer(0, unavailable);
    rig.backends.will_answer(1, ok_reply("hi"));
    CHECK(rig.run("GET", {}, {"r0"}) == request::kHandled);  // the session names m0: it goes first
    REQUIRE(rig.env.chosen.size() == 2);
    CHECK(rig.env.chosen[1].member == 1);
    CHECK(rig.client.inner.received == "hi");  // nothing of m0's answer
    CHECK(rig.backends.log[0].kept == 0);      // its connection is closed, the rest unread
    CHECK(rig.blamed(0) == (listed > 0));
    CHECK(rig.slot(0).errors[static_cast<std::size_t>(table::ErrorClass::FailStatus)] == (listed > 0 ? 1u : 0u));
  }
  SECTION("a request that cannot be replayed gets 503") {
    rig.client = Client("abc");
    rig.backends.will_answer(0, unavailable);
    rig.backends.will_answer(1, ok_reply("hi"));
    CHECK(rig.run("POST", length_body(3), {"r0"}) == 503);
    CHECK(rig.backends.log[1].requests == 0);
    CHECK(rig.client.inner.received.empty());
    CHECK(rig.blamed(0) == (listed > 0));
  }
  SECTION("every member answering a listed status: 503") {
    rig.backends.will_answer(0, unavailable);
    rig.backends.will_answer(1, concat({send_headers(404, {}), end_response(true)}));
    CHECK(rig.run() == 503);
    CHECK(rig.env.chosen.size() == 2);
    CHECK(rig.blamed(1));  // 404 is listed as a positive CODE
  }
  SECTION("another status is relayed as it is") {
    rig.backends.will_answer(0, concat({send_headers(500, {}), body_chunk("oops"), end_response(true)}));
    CHECK(rig.run("GET", {}, {"r0"}) == request::kHandled);
    CHECK(rig.env.chosen.size() == 1);
    CHECK(rig.client.inner.received == "oops");
    CHECK_FALSE(rig.blamed(0));
  }
}

TEST_CASE("request path: response times, to the headers and to the end, go to the member's histograms", "[request]") {
  Rig rig;
  rig.env.us_step = 7000;  // start -> headers -> end: 7 ms apart
  rig.backends.will_answer(0, ok_reply("hi"));
  rig.backends.will_answer(1, ok_reply("hi"));
  CHECK(rig.run() == request::kHandled);
  const int m = rig.env.chosen.at(0).member;
  const auto total = latency::since_start(rig.slot(m).latency.total);
  const auto first = latency::since_start(rig.slot(m).latency.first_byte);
  CHECK(total.count == 1);
  CHECK(total.sum_us == 14000);
  CHECK(total.buckets[latency::bucket_index(14000)] == 1);
  CHECK(first.sum_us == 7000);
  CHECK(latency::window(rig.slot(m).latency, rig.env.wall_ms(), 1).requests == Approx(1));
  REQUIRE(rig.env.summaries.size() == 1);
  CHECK(rig.env.summaries[0].attempts == 1);
  CHECK(rig.env.summaries[0].first_member == m);
  CHECK(rig.env.summaries[0].backend_us == 14000);
}

TEST_CASE("request path: a refused member counts a request and an error, but no response time", "[request]") {
  Rig rig;
  rig.env.us_step = 1000;
  rig.backends.will_answer(1, ok_reply("hi"));  // m0 refuses its connection
  CHECK(rig.run() == request::kHandled);
  REQUIRE(rig.env.chosen.size() == 2);
  REQUIRE(rig.env.chosen[0].member == 0);
  const auto w0 = latency::window(rig.slot(0).latency, rig.env.wall_ms(), 1);
  CHECK(w0.requests == Approx(1));
  CHECK(w0.errors == Approx(1));
  CHECK(latency::since_start(rig.slot(0).latency.total).count == 0);
  CHECK(latency::since_start(rig.slot(1).latency.total).count == 1);
  REQUIRE(rig.env.summaries.size() == 1);
  CHECK(rig.env.summaries[0].attempts == 2);
  CHECK(rig.env.summaries[0].first_member == 0);
  CHECK(rig.env.summaries[0].backend_us == 1000 + 2000);  // m0: start -> end; m1: start -> headers -> end
}

TEST_CASE("request path: a request refused before any attempt has no summary", "[request]") {
  Rig rig;
  rig.client.prefetch_status = IoStatus::Error;
  CHECK(rig.run("POST", length_body(10)) == 400);
  CHECK(rig.env.summaries.empty());
}

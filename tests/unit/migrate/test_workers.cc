// Workers and worker.X.reference inheritance (jk_workers.h).
#include <catch2/catch.hpp>

#include <string>

#include "idmb/jk_workers.h"

using namespace idmb::migrate;

namespace {

Workers resolve(const std::string& text) {
  Properties p;
  REQUIRE(p.add_text(text, "w", {}).ok());
  auto w = resolve_workers(p);
  REQUIRE(w.ok());
  return *w;
}

}  // namespace

TEST_CASE("workers: types, worker.list order, default type ajp13") {
  const Workers w = resolve(
      "worker.list=lb,jkstatus\n"
      "worker.lb.type=lb\nworker.lb.balance_workers=t1\n"
      "worker.t1.host=h\n"
      "worker.jkstatus.type=status\n"
      "worker.old.type=ajp12\n");
  CHECK(w.list == std::vector<std::string>{"lb", "jkstatus"});
  CHECK(w.find("lb")->type == WorkerType::Lb);
  CHECK(w.find("t1")->type == WorkerType::Ajp13);
  CHECK(w.find("jkstatus")->type == WorkerType::Status);
  CHECK(w.find("old")->type == WorkerType::Other);
  CHECK(w.find("nothing") == nullptr);
}

TEST_CASE("workers: own properties win over the reference's, which win over its reference's") {
  const Workers w = resolve(
      "worker.base.port=8009\nworker.base.lbfactor=1\nworker.base.reply_timeout=1000\n"
      "worker.tmpl.reference=worker.base\nworker.tmpl.lbfactor=5\nworker.tmpl.type=ajp13\n"
      "worker.t1.reference=worker.tmpl\nworker.t1.reply_timeout=2000\n"
      "worker.t1.host=10.0.0.1\n");
  const Worker* t1 = w.find("t1");
  CHECK(t1->get("host")->value == "10.0.0.1");
  CHECK(t1->get("reply_timeout")->value == "2000");
  CHECK(t1->get("lbfactor")->value == "5");
  CHECK(t1->get("port")->value == "8009");
  CHECK(t1->get("port")->origin.line == 1);  // warnings point at the template's line
}

TEST_CASE("workers: a reference to nothing and a reference loop are errors") {
  Properties p;
  REQUIRE(p.add_text("worker.t1.reference=worker.none\n", "w", {}).ok());
  auto missing = resolve_workers(p);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().rfind("w:1: error:", 0) == 0);

  Properties loop;
  REQUIRE(loop.add_text("worker.a.reference=worker.b\nworker.b.reference=worker.a\n", "w", {}).ok());
  auto looped = resolve_workers(loop);
  REQUIRE_FALSE(looped.ok());
  CHECK(looped.error().find("deeper than 20") != std::string::npos);
}

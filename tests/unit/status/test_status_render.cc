// The three renderers against golden files from one fixed snapshot, and against each other.
#include <catch2/catch.hpp>

#include <string>

#include "idmb/status_render.h"
#include "status/status_fixture.h"

using namespace idmb::status;
using namespace idmb::status::testing;

namespace {

HtmlOptions manager_options() {
  HtmlOptions o;
  o.manager = true;
  o.action_url = "/balancer-manager";
  o.refresh_seconds = 10;
  o.json_url = "/balancer-manager?format=json";
  o.prometheus_url = "/balancer-manager?format=prometheus";
  return o;
}

std::size_t count(const std::string& text, std::string_view needle) {
  std::size_t n = 0;
  for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

const PromSample& find_sample(const std::vector<PromSample>& samples, std::string_view name,
                              const std::string& balancer, const std::string& member, std::string_view extra_key = {},
                              std::string_view extra_value = {}) {
  for (const PromSample& s : samples) {
    if (s.name != name || s.labels.at("balancer") != balancer || s.labels.at("member") != member) continue;
    if (!extra_key.empty() && s.labels.at(std::string(extra_key)) != extra_value) continue;
    return s;
  }
  FAIL("no sample " << std::string(name) << " for " << balancer << "/" << member);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("golden: JSON", "[status]") { check_golden("snapshot.json", render_json(fixed_snapshot())); }

TEST_CASE("golden: Prometheus", "[status]") { check_golden("snapshot.prom", render_prometheus(fixed_snapshot())); }

TEST_CASE("golden: HTML manager page", "[status]") {
  check_golden("snapshot.html", render_html(fixed_snapshot(), manager_options()));
}

TEST_CASE("JSON parses and carries the snapshot", "[status]") {
  const Snapshot snap = fixed_snapshot();
  const std::string text = render_json(snap);
  Json doc;
  REQUIRE_NOTHROW(doc = JsonReader(text).parse());
  CHECK(doc["schema"].n == 2);
  REQUIRE(doc["latency_buckets_ms"].arr.size() == idmb::latency::kBoundsUs.size());
  CHECK(doc["latency_buckets_ms"].arr.front().n == 1);
  CHECK(doc["latency_buckets_ms"].arr.back().n == 60000);
  CHECK(doc["version"].s == "mod_idmbalance/0.1.0");
  CHECK(doc["generated_ms"].n == kNow);
  CHECK(doc["generation"].n == 3);
  CHECK(doc["nonce"].s == kNonce);
  REQUIRE(doc["balancers"].arr.size() == 2);
  const Json& op = doc["balancers"].arr[0];
  CHECK(op["name"].s == "operator");
  CHECK(op["method"].s == "requests");
  CHECK(op["sticky"]["cookie"].s == "JSESSIONID");
  CHECK(op["sticky"]["force"].b == false);
  REQUIRE(op["mounts"].arr.size() == 2);
  CHECK(op["mounts"].arr[1].s == "/idm/admin/*.jsp");
  REQUIRE(op["members"].arr.size() == 2);
  const Json& t2 = op["members"].arr[1];
  CHECK(t2["name"].s == kEvilName);  // escaped on the wire, intact once parsed
  CHECK(t2["route"].s == kEvilRoute);
  CHECK(t2["address"].s == "[::1]:8010");
  CHECK(t2["activation"].s == "disabled");
  CHECK(t2["state"].s == "error");
  CHECK(t2["errors"]["connect"].n == 5);
  CHECK(t2["errors"]["backend_closed"].n == 1);
  CHECK(t2["errors_total"].n == 6);
  CHECK(t2["drained"].b == true);
  const Json& t1 = op["members"].arr[0];
  CHECK(t1["errors"]["client"].n == 4);
  CHECK(t1["errors_total"].n == 3);  // client errors are not the member's
  CHECK(t1["last_error"].s == "timeout");
  const Json& t3 = doc["balancers"].arr[1]["members"].arr[0];
  CHECK(t3["last_error"].s == "");
  CHECK(t3["last_error_ms"].n == 0);
  REQUIRE(doc["events"].arr.size() == 2);
  CHECK(doc["events"].arr[1]["text"].s == "recovering: \"probe\" ok\\\t caf\xc3\xa9 \xef\xbf\xbd");

  // The member keys in schema order.
  std::vector<std::string> keys;
  for (const auto& [k, v] : t1.obj) keys.push_back(k);
  CHECK(keys == std::vector<std::string>{"name",
                                         "route",
                                         "address",
                                         "domain",
                                         "redirect",
                                         "activation",
                                         "state",
                                         "state_since_ms",
                                         "factor",
                                         "busy",
                                         "requests",
                                         "errors",
                                         "errors_total",
                                         "bytes_in",
                                         "bytes_out",
                                         "sticky_hits",
                                         "last_error",
                                         "last_error_ms",
                                         "secret_refused_ms",
                                         "last_sticky_ms",
                                         "last_probe_ms",
                                         "last_probe_ok",
                                         "ejected_until_ms",
                                         "outlier_ejections",
                                         "drained",
                                         "latency"});
  // t1's response times (status_fixture.h): 30 a minute; the last five minutes at 40-49 ms.
  const Json& lat = t1["latency"];
  CHECK(lat["since_start"]["count"].n == 16 * 30);
  CHECK(lat["since_start"]["buckets"].arr.size() == idmb::table::kLatencyBuckets);
  CHECK(lat["last_minute"]["p50_ms"].d > 30.0);
  CHECK(lat["last_minute"]["p99_ms"].d <= 50.0);
  CHECK(lat["requests_per_s"]["1m"].d == Approx(31.0 / 60).epsilon(0.01));  // kNow starts a minute
  REQUIRE(lat["history"]["requests"].arr.size() == 15);
  CHECK(lat["history"]["requests"].arr.front().n == 30);
  CHECK(lat["history"]["requests"].arr[13].n == 31);     // the last whole minute, with the refused one
  CHECK(lat["history"]["requests"].arr[14].n == 0);      // the current minute: kNow starts it
  CHECK(lat["history"]["p99_ms"].arr.front().d < 20.0);  // 8-16.7 ms then
  CHECK(lat["history"]["p99_ms"].arr[13].d > 30.0);
  CHECK(lat["history"]["p99_ms"].arr[14].kind == Json::Kind::Null);
  // Nothing recorded: quantiles are null, not 0.
  CHECK(t3["latency"]["last_minute"]["p99_ms"].kind == Json::Kind::Null);
  // Nothing HTML-active survives on the wire.
  CHECK(text.find('<') == std::string::npos);
  CHECK(text.find('>') == std::string::npos);
}

TEST_CASE("JSON: no nonce key without a nonce; empty lists", "[status]") {
  Snapshot snap = fixed_snapshot();
  snap.nonce.clear();
  const std::string text = render_json(snap);
  CHECK(text.find("nonce") == std::string::npos);
  CHECK(!JsonReader(text).parse().has("nonce"));

  Snapshot empty;
  const Json doc = JsonReader(render_json(empty)).parse();
  CHECK(doc["balancers"].kind == Json::Kind::Array);
  CHECK(doc["balancers"].arr.empty());
  CHECK(doc["events"].arr.empty());
}

TEST_CASE("Prometheus values equal the JSON values", "[status]") {
  const Snapshot snap = fixed_snapshot();
  const Json doc = JsonReader(render_json(snap)).parse();
  const auto samples = parse_prometheus(render_prometheus(snap));
  std::size_t members = 0;
  for (const Json& b : doc["balancers"].arr) {
    for (const Json& m : b["members"].arr) {
      ++members;
      const std::string& bn = b["name"].s;
      const std::string& mn = m["name"].s;
      const auto value = [&](std::string_view metric, std::string_view k = {}, std::string_view v = {}) {
        const PromSample& s = find_sample(samples, metric, bn, mn, k, v);
        CHECK(s.labels.at("route") == m["route"].s);
        return std::stoll(s.value);
      };
      CHECK(value("idmbalance_member_requests_total") == m["requests"].n);
      CHECK(value("idmbalance_member_bytes_in_total") == m["bytes_in"].n);
      CHECK(value("idmbalance_member_bytes_out_total") == m["bytes_out"].n);
      CHECK(value("idmbalance_member_sticky_hits_total") == m["sticky_hits"].n);
      CHECK(value("idmbalance_member_busy") == m["busy"].n);
      CHECK(value("idmbalance_member_factor") == m["factor"].n);
      CHECK(value("idmbalance_member_drained") == (m["drained"].b ? 1 : 0));
      for (const auto& [cls, n] : m["errors"].obj) {
        CHECK(value("idmbalance_member_errors_total", "class", cls) == n.n);
      }
      for (std::string_view st : {"ok", "error", "recovering"}) {
        CHECK(value("idmbalance_member_state", "state", st) == (m["state"].s == st ? 1 : 0));
      }
      for (std::string_view a : {"active", "disabled", "stopped", "standby"}) {
        CHECK(value("idmbalance_member_activation", "activation", a) == (m["activation"].s == a ? 1 : 0));
      }
      const bool up = m["state"].s != "error" && m["activation"].s != "stopped";
      CHECK(value("idmbalance_member_up") == (up ? 1 : 0));
      CHECK(value("idmbalance_member_probe_ok") == (m["last_probe_ok"].b ? 1 : 0));
    }
  }
  CHECK(members == 3);
  // 4 counters + 8 error classes + 6 plain gauges + 4 states + 4 activations = 26 per member,
  // and two histograms of 28 bounds + Inf + sum + count.
  CHECK(samples.size() == (26 + 2 * 31) * members);
}

TEST_CASE("Prometheus histograms are cumulative and agree with the JSON", "[status]") {
  const Snapshot snap = fixed_snapshot();
  const Json doc = JsonReader(render_json(snap)).parse();
  const auto samples = parse_prometheus(render_prometheus(snap));
  const Json& t1 = doc["balancers"].arr[0]["members"].arr[0];
  const std::string bn = "operator", mn = "t1";
  for (const auto& [family, key] : {std::pair{"idmbalance_member_response_seconds", "since_start"},
                                    std::pair{"idmbalance_member_first_byte_seconds", "first_byte"}}) {
    const Json& h = t1["latency"][key];
    long long previous = 0, json_cumulative = 0;
    for (std::size_t i = 0; i < idmb::latency::kBoundsUs.size(); ++i) {
      const std::string le = seconds_text(static_cast<std::uint64_t>(idmb::latency::kBoundsUs[i]));
      const long long v = std::stoll(find_sample(samples, std::string(family) + "_bucket", bn, mn, "le", le).value);
      json_cumulative += h["buckets"].arr[i].n;
      CHECK(v >= previous);
      CHECK(v == json_cumulative);
      previous = v;
    }
    const auto inf = find_sample(samples, std::string(family) + "_bucket", bn, mn, "le", "+Inf");
    CHECK(std::stoll(inf.value) == h["count"].n);
    CHECK(std::stoll(find_sample(samples, std::string(family) + "_count", bn, mn).value) == h["count"].n);
    CHECK(std::stod(find_sample(samples, std::string(family) + "_sum", bn, mn).value) ==
          Approx(h["sum_ms"].d / 1000.0));
  }
  CHECK(seconds_text(1000) == "0.001");
  CHECK(seconds_text(1500000) == "1.5");
  CHECK(seconds_text(60000000) == "60");
}

TEST_CASE("Prometheus: one HELP and TYPE per family, escaped labels", "[status]") {
  const std::string text = render_prometheus(fixed_snapshot());
  for (std::string_view family :
       {"idmbalance_member_requests_total", "idmbalance_member_errors_total", "idmbalance_member_bytes_in_total",
        "idmbalance_member_bytes_out_total", "idmbalance_member_sticky_hits_total", "idmbalance_member_busy",
        "idmbalance_member_factor", "idmbalance_member_up", "idmbalance_member_state", "idmbalance_member_activation",
        "idmbalance_member_drained"}) {
    INFO(std::string(family));
    CHECK(count(text, "# HELP " + std::string(family) + " ") == 1);
    CHECK(count(text, "# TYPE " + std::string(family) + " ") == 1);
  }
  CHECK(count(text, "# TYPE idmbalance_member_requests_total counter\n") == 1);
  CHECK(count(text, "# TYPE idmbalance_member_busy gauge\n") == 1);
  CHECK(text.find(R"(route="<script>alert(\"x\\n\")&'</script>")") != std::string::npos);

  std::string label;
  append_prometheus_label_value(label, "a\\b\"c\nd");
  CHECK(label == R"(a\\b\"c\nd)");
}

TEST_CASE("HTML escapes every value", "[status]") {
  const std::string page = render_html(fixed_snapshot(), manager_options());
  CHECK(page.find("<script") == std::string::npos);
  CHECK(page.find("<img") == std::string::npos);
  CHECK(page.find("&lt;script&gt;alert(&quot;x\\n&quot;)&amp;&#39;&lt;/script&gt;") != std::string::npos);
  CHECK(page.find("t2&lt;img src=x onerror=alert(1)&gt;") != std::string::npos);
  // The member name goes into a hidden form field: escaped there too.
  CHECK(page.find(R"(name="member" value="t2&lt;img src=x onerror=alert(1)&gt;")") != std::string::npos);

  HtmlOptions hostile = manager_options();
  hostile.action_url = "/m\"><script>x</script>";
  hostile.json_url = "javascript:'\"<";
  const std::string page2 = render_html(fixed_snapshot(), hostile);
  CHECK(page2.find("<script") == std::string::npos);
  CHECK(page2.find(R"(action="/m&quot;&gt;&lt;script&gt;x&lt;/script&gt;")") != std::string::npos);

  CHECK(html_escape("&<>\"'") == "&amp;&lt;&gt;&quot;&#39;");
  CHECK(html_escape("caf\xc3\xa9") == "caf\xc3\xa9");
  CHECK(html_escape("a\xff"
                    "b") ==
        "a\xef\xbf\xbd"
        "b");
  CHECK(html_escape("\xe0\x80\xaf") == "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // overlong '/'
  CHECK(html_escape("\xed\xa0\x80") == "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // surrogate
  CHECK(html_escape("\xf0\x9f\x98\x80") == "\xf0\x9f\x98\x80");
  CHECK(html_escape("\xe2\x82") == "\xef\xbf\xbd\xef\xbf\xbd");  // truncated
}

TEST_CASE("HTML: manager forms, read-only page has none", "[status]") {
  const std::string manager = render_html(fixed_snapshot(), manager_options());
  // Per member: one action form and one factor form; per balancer: one settings form.
  CHECK(count(manager, "<form method=\"post\" action=\"/balancer-manager\"") == 3 * 2 + 2);
  CHECK(count(manager, std::string(R"(name="nonce" value=")") + std::string(kNonce) + "\"") == 3 * 2 + 2);
  for (std::string_view a : {"activate", "disable", "stop", "standby", "reset", "recover"}) {
    CHECK(count(manager, "name=\"action\" value=\"" + std::string(a) + "\"") == 3);
  }
  CHECK(count(manager, R"(name="factor")") == 3);
  CHECK(count(manager, R"(<select name="method">)") == 2);
  CHECK(count(manager, R"(<select name="sticky_force">)") == 2);
  CHECK(manager.find(R"(<meta http-equiv="refresh" content="10">)") != std::string::npos);
  // The current activation's button is disabled; recover only for the member in error.
  CHECK(manager.find(R"(name="action" value="activate" disabled>)") != std::string::npos);
  CHECK(count(manager, R"(name="action" value="recover">)") == 1);

  HtmlOptions ro;
  ro.json_url = "?format=json";
  const std::string status = render_html(fixed_snapshot(), ro);
  CHECK(status.find("<form") == std::string::npos);
  CHECK(status.find("<button") == std::string::npos);
  CHECK(status.find(std::string(kNonce)) == std::string::npos);
  CHECK(status.find("http-equiv") == std::string::npos);
  CHECK(status.find("Prometheus</a>") == std::string::npos);
  CHECK(status.find(R"(<a href="?format=json">JSON</a>)") != std::string::npos);
  CHECK(status.find("<title>mod_idmbalance status</title>") != std::string::npos);
}

TEST_CASE("HTML shows the human-readable details", "[status]") {
  const std::string page = render_html(fixed_snapshot(), manager_options());
  CHECK(page.find("generated 2024-05-01 12:00:00 UTC") != std::string::npos);
  CHECK(page.find("for 2h 5m") != std::string::npos);
  CHECK(page.find("for 42s") != std::string::npos);
  CHECK(page.find("timeout <span class=\"since\" title=\"2024-05-01 11:56:48 UTC\">3m 12s ago</span>") !=
        std::string::npos);
  CHECK(page.find("5.2 MiB") != std::string::npos);
  CHECK(page.find("2.0 KiB") != std::string::npos);
  CHECK(page.find("<span class=\"badge drained\" title=") != std::string::npos);
  CHECK(count(page, "drained</span>") == 1);
  CHECK(page.find("(connect 2, timeout 1, client 4)") != std::string::npos);
  CHECK(page.find("/idm/admin/*.jsp") != std::string::npos);
}

TEST_CASE("human formats", "[status]") {
  CHECK(human_duration(-5) == "0s");
  CHECK(human_duration(999) == "0s");
  CHECK(human_duration(59'999) == "59s");
  CHECK(human_duration(60'000) == "1m 0s");
  CHECK(human_duration(192'000) == "3m 12s");
  CHECK(human_duration(3'600'000) == "1h 0m");
  CHECK(human_duration(86'399'000) == "23h 59m");
  CHECK(human_duration(86'400'000 * 4 + 3'600'000 * 3) == "4d 3h");
  CHECK(human_bytes(0) == "0 B");
  CHECK(human_bytes(1023) == "1023 B");
  CHECK(human_bytes(1024) == "1.0 KiB");
  CHECK(human_bytes(1536) == "1.5 KiB");
  CHECK(human_bytes(1024 * 1024 - 1) == "1023.9 KiB");
  CHECK(human_bytes(20ull << 20) == "20.0 MiB");
  CHECK(human_bytes(UINT64_MAX) == "15.9 EiB");
  CHECK(format_utc(0) == "1970-01-01 00:00:00 UTC");
  CHECK(format_utc(kNow + 999) == "2024-05-01 12:00:00 UTC");
  CHECK(format_utc(951782400000) == "2000-02-29 00:00:00 UTC");
}

TEST_CASE("JSON string escaping", "[status]") {
  std::string out;
  append_json_string(out, "q\"b\\n\n\x01\x1f\x7f<>&/\xc3\xa9\xff");
  CHECK(out == "\"q\\\"b\\\\n\\u000a\\u0001\\u001f\\u007f\\u003c\\u003e\\u0026/\xc3\xa9\xef\xbf\xbd\"");
  out.clear();
  append_json_string(out, std::string("a\0b", 3));
  CHECK(out == "\"a\\u0000b\"");
}

TEST_CASE("a refused AJP secret shows on the page, in JSON and in Prometheus", "[status]") {
  Snapshot snap = fixed_snapshot();
  MemberStatus& m = snap.balancers.at(0).members.at(0);
  m.secret_refused_ms = snap.generated_ms - 5000;
  const std::string html = render_html(snap, manager_options());
  CHECK(count(html, "AJP secret refused?") == 1);
  CHECK_THAT(render_json(snap), Catch::Contains("\"secret_refused_ms\": " + std::to_string(m.secret_refused_ms)));
  const std::string prom = render_prometheus(snap);
  CHECK_THAT(prom, Catch::Contains("idmbalance_member_secret_refused{balancer=\"" + snap.balancers[0].name +
                                   "\",member=\"" + m.name + "\",route=\"" + m.route + "\"} 1"));
  CHECK(count(prom, "idmbalance_member_secret_refused{") == 3);  // one per member, the others 0
}

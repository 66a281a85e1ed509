// The three views of a status snapshot (status_snapshot.h): JSON for scripts, Prometheus
// text for scrapers, HTML for people. Pure functions of the snapshot: the same snapshot
// always renders the same bytes, which the golden tests rely on.
//
// JSON schema (version 2; keys always in this order, every key always present except
// "nonce"; times are Unix epoch milliseconds, 0 meaning "never/unknown"; "num" is a number
// with three decimals, "num?" one or null):
//   { "schema": 2, "version": str, "generated_ms": int, "generation": int,
//     "nonce": str,                       -- only when non-empty (manager page only)
//     "latency_buckets_ms": [int],        -- upper bounds; bucket arrays have one more (> 60 s)
//     "balancers": [ { "name": str, "method": "requests"|"traffic"|"busyness"|"p2c",
//         "sticky": { "enabled": bool, "cookie": str, "path_param": str, "force": bool },
//         "mounts": [str],
//         "members": [ { "name", "route", "address" ("host:port"), "domain", "redirect": str,
//             "activation": "active"|"disabled"|"stopped"|"standby",
//             "state": "ok"|"error"|"recovering", "state_since_ms": int,
//             "factor", "busy", "requests": int,
//             "errors": { "connect", "cping", "backend_closed", "protocol", "timeout",
//                         "fail_status", "client": int },
//             "errors_total": int (all classes but "client"),
//             "bytes_in", "bytes_out", "sticky_hits": int,
//             "last_error": str (an errors key, "" if none), "last_error_ms": int,
//             "last_sticky_ms": int, "last_probe_ms": int, "last_probe_ok": bool,
//             "drained": bool,
//             "latency": {                -- LatencyStatus (status_snapshot.h)
//               "last_minute": { "requests": num, "p50_ms", "p90_ms", "p99_ms": num? },
//               "since_start", "first_byte": { "count": int, "sum_ms": num,
//                   "p50_ms", "p90_ms", "p99_ms": num?, "buckets": [int] },
//               "requests_per_s", "errors_per_s": { "1m", "5m", "15m": num },
//               "history": { "requests", "errors": [int x15], "p99_ms": [num? x15] } } } ] } ],
//     "events": [ { "time_ms": int, "balancer": str, "member": str, "text": str } ] }
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "idmb/status_snapshot.h"

namespace idmb::status {

inline constexpr std::string_view kJsonContentType = "application/json";
inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";
inline constexpr std::string_view kHtmlContentType = "text/html; charset=utf-8";

std::string render_json(const Snapshot& snapshot);

// Prometheus text exposition format 0.0.4. Families (labels balancer, member, route):
//   counters idmbalance_member_{requests,bytes_in,bytes_out,sticky_hits}_total and
//            idmbalance_member_errors_total{class=...};
//   gauges   idmbalance_member_{busy,factor,up,probe_ok,drained},
//            idmbalance_member_state{state=ok|error|recovering} and
//            idmbalance_member_activation{activation=active|disabled|stopped|standby}
//            (one-hot: 1 for the current value, 0 for the others);
//   histograms idmbalance_member_{response,first_byte}_seconds (_bucket{le}, _sum, _count).
std::string render_prometheus(const Snapshot& snapshot);

struct HtmlOptions {
  bool manager = false;     // adds the forms (and the snapshot's nonce in them)
  std::string action_url;   // where the forms POST: the manager's own URL
  int refresh_seconds = 0;  // > 0: <meta http-equiv="refresh">
  std::string json_url;     // links to the other views; omitted when empty
  std::string prometheus_url;
};

// A self-contained page (inline CSS, no JavaScript). In manager mode every member row has a
// form posting nonce, balancer, member and action=activate|disable|stop|standby|reset|recover
// (one button each), and a second form posting nonce, balancer, member and factor=N without
// an action; each balancer has a form posting nonce, balancer, method=... and
// sticky_force=on|off without a member.
std::string render_html(const Snapshot& snapshot, const HtmlOptions& options);

// Building blocks, public for the tests and the handler's error pages.
// Invalid UTF-8 is replaced by U+FFFD in all three.
void append_html_escaped(std::string& out, std::string_view text);  // & < > " '
std::string html_escape(std::string_view text);
// A JSON string literal with its quotes; control characters (and < > &) as \u00XX.
void append_json_string(std::string& out, std::string_view text);
// A Prometheus label value without quotes: backslash, double quote and newline escaped.
void append_prometheus_label_value(std::string& out, std::string_view text);

// "0s", "45s", "3m 12s", "2h 5m", "4d 3h".
std::string human_duration(std::int64_t ms);
// "0 B", "1023 B", "1.5 KiB", "20.0 MiB" (binary units, one decimal, rounded down).
std::string human_bytes(std::uint64_t bytes);
// "2024-05-01 12:00:00 UTC"
std::string format_utc(std::int64_t epoch_ms);
// `value` with `digits` decimals ("12.346"); NaN and infinities as "0".
std::string decimal(double value, int digits);
// Microseconds as seconds without trailing zeros: 1500 -> "0.0015", 60000000 -> "60".
std::string seconds_text(std::uint64_t us);
// A response time for people: "0.8 ms", "12 ms", "1.25 s"; "-" for none.
std::string human_ms(std::optional<double> ms);

// A small inline SVG line chart of `values` (oldest first; nullopt leaves a gap), scaled from
// 0 to the largest value, for a table cell. `label` is its accessible name and tooltip, with
// the largest value appended. No script; the same values give the same bytes.
struct Sparkline {
  int width = 90;
  int height = 18;
  std::string_view css_class = "spark";
};
std::string sparkline_svg(std::span<const std::optional<double>> values, std::string_view label,
                          const Sparkline& style = {});

}  // namespace idmb::status

// The snapshot as a self-contained HTML page: inline CSS, no JavaScript, every value escaped.
// In manager mode it also carries the forms of the control interface (control.h).
#include <array>
#include <optional>
#include <string>
#include <utility>

#include "idmb/control.h"
#include "idmb/status_render.h"

namespace idmb::status {
namespace {

constexpr std::string_view kStyle = R"css(
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em; color: #1d2125; background: #fafbfc; }
h1 { font-size: 1.4em; margin: 0 0 .2em; }
h2 { font-size: 1.15em; margin: 1.6em 0 .4em; }
.meta, .since, .muted { color: #5e6c84; }
.bad { color: #bf2600; font-weight: 600; }
dl.settings { display: grid; grid-template-columns: max-content auto; gap: .1em 1em; margin: .4em 0; }
dl.settings dt { font-weight: 600; }
dl.settings dd { margin: 0; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; }
table.members { border-collapse: collapse; width: 100%; background: #fff; margin: .6em 0; }
table.members th, table.members td { border: 1px solid #dfe1e6; padding: .3em .4em; text-align: left; vertical-align: top; }
table.members th { background: #f4f5f7; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.row-st-error td { background: #fff8f6; }
tr.row-act-stopped td { background: #f4f5f7; color: #6b778c; }
.badge { display: inline-block; padding: 0 .45em; border-radius: .6em; font-size: .9em; font-weight: 600; }
.st-ok { background: #e3fcef; color: #006644; }
.st-error { background: #ffebe6; color: #bf2600; }
.st-recovering { background: #fffae6; color: #974f0c; }
.st-ejected { background: #ffebe6; color: #974f0c; }
.st-unknown, .act-unknown { background: #ebecf0; color: #42526e; }
.act-active { background: #e3fcef; color: #006644; }
.act-disabled { background: #fffae6; color: #974f0c; }
.act-stopped { background: #ebecf0; color: #42526e; }
.act-standby { background: #deebff; color: #0747a6; }
.drained { background: #deebff; color: #0747a6; }
.err-count { color: #bf2600; font-weight: 600; }
form { display: inline; margin: 0; }
td.actions { white-space: nowrap; line-height: 1.9; }
td.route { min-width: 8em; max-width: 20em; overflow-wrap: anywhere; }
td.addr { white-space: nowrap; }
div.scroll { overflow-x: auto; }
.since { white-space: nowrap; }
td.actions button { font-size: .85em; padding: .1em .4em; }
td.actions input[type=number] { width: 4em; }
form.balancer-settings { display: block; margin: .4em 0; }
form.balancer-settings label { margin-right: 1em; }
ol.events { padding-left: 1.4em; }
p.summary { margin: .3em 0; font-variant-numeric: tabular-nums; }
td.spark { white-space: nowrap; line-height: 1; }
svg.spark { display: block; margin: 1px 0; }
svg.spark-req { color: #0052cc; }
svg.spark-err { color: #bf2600; }
svg.spark-p99 { color: #5243aa; }
dl.legend { display: grid; grid-template-columns: max-content auto; gap: .1em 1em; }
dl.legend dt { font-weight: 600; }
dl.legend dd { margin: 0; color: #42526e; }
)css";

void esc(std::string& out, std::string_view text) { append_html_escaped(out, text); }

void hidden(std::string& out, std::string_view name, std::string_view value) {
  out.append("<input type=\"hidden\" name=\"").append(name).append("\" value=\"");
  esc(out, value);
  out.append("\">");
}

void form_open(std::string& out, const HtmlOptions& opt, std::string_view css_class = {}) {
  out.append("<form method=\"post\" action=\"");
  esc(out, opt.action_url);
  out.append("\"");
  if (!css_class.empty()) out.append(" class=\"").append(css_class).append("\"");
  out.append(">");
}

// "3m 12s ago" when `t_ms` is known and not in the future, else "".
std::string ago(std::int64_t t_ms, std::int64_t now_ms) {
  if (t_ms <= 0 || t_ms > now_ms) return {};
  return human_duration(now_ms - t_ms) + " ago";
}

void settings(std::string& out, const BalancerStatus& b) {
  out.append("<dl class=\"settings\">\n<dt>Method</dt><dd>");
  esc(out, b.method);
  out.append("</dd>\n<dt>Sticky sessions</dt><dd>");
  if (b.sticky.enabled) {
    out.append("cookie <code>");
    esc(out, b.sticky.cookie);
    out.append("</code>, path parameter <code>");
    esc(out, b.sticky.path_param);
    out.append("</code>");
  } else {
    out.append("off");
  }
  out.append("</dd>\n<dt>Sticky force</dt><dd>").append(b.sticky.force ? "on" : "off").append("</dd>\n");
  out.append("<dt>Mounts</dt><dd>");
  if (b.mounts.empty()) out.append("<span class=\"muted\">none</span>");
  for (std::size_t i = 0; i < b.mounts.size(); ++i) {
    if (i > 0) out.append(" ");
    out.append("<code>");
    esc(out, b.mounts[i]);
    out.append("</code>");
  }
  out.append("</dd>\n</dl>\n");
}

void balancer_form(std::string& out, const Snapshot& snap, const BalancerStatus& b, const HtmlOptions& opt) {
  form_open(out, opt, "balancer-settings");
  hidden(out, "nonce", snap.nonce);
  hidden(out, "balancer", b.name);
  out.append("\n<label>Method <select name=\"method\">");
  for (config::Method method : config::kMethods) {
    const std::string_view m = config::to_string(method);
    out.append("<option value=\"").append(m).append("\"").append(m == b.method ? " selected" : "");
    out.append(">").append(m).append("</option>");
  }
  out.append("</select></label>\n<label>Sticky force <select name=\"sticky_force\">");
  out.append("<option value=\"off\"").append(b.sticky.force ? "" : " selected").append(">off</option>");
  out.append("<option value=\"on\"").append(b.sticky.force ? " selected" : "").append(">on</option>");
  out.append("</select></label>\n<button type=\"submit\">Apply</button>\n</form>\n");
}

// The compact error cell: the member's total, then the non-zero classes.
void errors_cell(std::string& out, const MemberStatus& m) {
  out.append("<td>");
  if (m.errors_total == 0) {
    out.append("0");
  } else {
    out.append("<span class=\"err-count\">").append(std::to_string(m.errors_total)).append("</span>");
  }
  std::string detail;
  for (std::size_t i = 0; i < m.errors.size(); ++i) {
    if (m.errors[i] == 0) continue;
    if (!detail.empty()) detail.append(", ");
    detail.append(error_class_name(static_cast<table::ErrorClass>(i))).append(" ").append(std::to_string(m.errors[i]));
  }
  if (!detail.empty()) out.append(" <span class=\"muted\">(").append(detail).append(")</span>");
  out.append("</td>");
}

void member_actions(std::string& out, const Snapshot& snap, const BalancerStatus& b, const MemberStatus& m,
                    const HtmlOptions& opt) {
  out.append("<td class=\"actions\">");
  form_open(out, opt);
  hidden(out, "nonce", snap.nonce);
  hidden(out, "balancer", b.name);
  hidden(out, "member", m.name);
  for (Action a : kActions) {
    const std::string_view action = to_string(a);
    // The current activation's own button, and "recover" for a member not in error, do
    // nothing: shown disabled so the row reads as a state display too.
    const bool current =
        (action == "activate" && m.activation == "active") || (action == "disable" && m.activation == "disabled") ||
        (action == "stop" && m.activation == "stopped") || (action == "standby" && m.activation == "standby") ||
        (action == "recover" && m.state != "error" && m.state != "ejected");
    out.append("<button type=\"submit\" name=\"action\" value=\"").append(action).append("\"");
    out.append(current ? " disabled" : "").append(">").append(action).append("</button>");
    if (action == "standby") out.append("<br>");  // activation on one line, the rest on the next
  }
  out.append("</form> ");
  form_open(out, opt);
  hidden(out, "nonce", snap.nonce);
  hidden(out, "balancer", b.name);
  hidden(out, "member", m.name);
  out.append("<input type=\"number\" name=\"factor\" min=\"1\" max=\"100\" value=\"")
      .append(std::to_string(m.factor))
      .append("\" aria-label=\"factor\"><button type=\"submit\">set factor</button></form></td>");
}

// The row's opening tag, then the name, address and route cells.
void identity_cells(std::string& out, const BalancerStatus& b, const MemberStatus& m) {
  out.append("<tr id=\"m-");
  esc(out, b.name);
  out.append("-");
  esc(out, m.name);
  out.append("\" class=\"row-act-");
  esc(out, m.activation);
  out.append(" row-st-");
  esc(out, m.state);
  out.append("\">");

  out.append("<td><strong>");
  esc(out, m.name);
  out.append("</strong>");
  if (m.drained) {
    out.append(
        " <span class=\"badge drained\" title=\"disabled, nothing in flight, no recent request of a live session\">"
        "drained</span>");
  }
  out.append("</td><td class=\"addr\"><code>");
  esc(out, m.address);
  out.append("</code></td><td class=\"route\"><code>");
  esc(out, m.route);
  out.append("</code>");
  if (!m.domain.empty()) {
    out.append("<br><span class=\"muted\">domain ");
    esc(out, m.domain);
    out.append("</span>");
  }
  if (!m.redirect.empty()) {
    out.append("<br><span class=\"muted\">redirect ");
    esc(out, m.redirect);
    out.append("</span>");
  }
  out.append("</td>");
}

// The activation and health state badges, the state's age beside it.
void state_cells(std::string& out, const MemberStatus& m, std::int64_t now) {
  out.append("<td><span class=\"badge act-");
  esc(out, m.activation);
  out.append("\">");
  esc(out, m.activation);
  out.append("</span></td>");

  out.append("<td><span class=\"badge st-");
  esc(out, m.state);
  out.append("\">");
  esc(out, m.state);
  out.append("</span>");
  if (m.state_since_ms > 0 && m.state_since_ms <= now) {
    out.append(" <span class=\"since\" title=\"since ").append(format_utc(m.state_since_ms)).append("\">for ");
    out.append(human_duration(now - m.state_since_ms)).append("</span>");
  }
  if (m.state == "ejected" && m.ejected_until_ms > now) {
    out.append(" <span class=\"since\">until ").append(format_utc(m.ejected_until_ms));
    out.append(" (ejection ").append(std::to_string(m.outlier_ejections)).append(")</span>");
  }
  out.append("</td>");
}

std::string rate(double per_second) { return decimal(per_second, per_second < 10 ? 2 : 1); }

// Last minute's p50 / p99, its request rate, and the 15-minute sparklines.
void latency_cells(std::string& out, const MemberStatus& m) {
  const LatencyStatus& l = m.latency;
  out.append("<td class=\"num\">").append(rate(l.requests_per_s[0])).append("</td>");
  out.append("<td class=\"num\">").append(human_ms(l.minute_p50_ms)).append(" / ");
  out.append(human_ms(l.minute_p99_ms)).append("</td>");
  std::array<std::optional<double>, latency::kWindowMinutes> requests, errors;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    requests[i] = static_cast<double>(l.history_requests[i]);
    errors[i] = static_cast<double>(l.history_errors[i]);
  }
  out.append("<td class=\"spark\">");
  out.append(sparkline_svg(requests, "requests per minute, last 15 min", {90, 16, "spark spark-req"}));
  out.append(sparkline_svg(errors, "errors per minute, last 15 min", {90, 16, "spark spark-err"}));
  out.append(sparkline_svg(l.history_p99_ms, "p99 ms per minute, last 15 min", {90, 16, "spark spark-p99"}));
  out.append("</td>");
}

void counter_cells(std::string& out, const MemberStatus& m) {
  const auto num = [&out](const std::string& v) { out.append("<td class=\"num\">").append(v).append("</td>"); };
  num(std::to_string(m.factor));
  num(std::to_string(m.busy));
  num(std::to_string(m.requests));
  latency_cells(out, m);
  errors_cell(out, m);
  num(human_bytes(m.bytes_in));
  num(human_bytes(m.bytes_out));
  num(std::to_string(m.sticky_hits));
}

void last_error_cell(std::string& out, const MemberStatus& m, std::int64_t now) {
  out.append("<td>");
  if (m.secret_refused_ms > 0) {
    out.append("<span class=\"bad\">AJP secret refused?</span> <span class=\"since\" title=\"")
        .append(format_utc(m.secret_refused_ms))
        .append("\">403 and close, as Tomcat answers a wrong secret</span><br>");
  }
  if (m.last_error.empty() || m.last_error_ms <= 0) {
    out.append("<span class=\"muted\">none</span>");
  } else {
    esc(out, m.last_error);
    out.append(" <span class=\"since\" title=\"").append(format_utc(m.last_error_ms)).append("\">");
    const std::string when = ago(m.last_error_ms, now);
    out.append(when.empty() ? format_utc(m.last_error_ms) : when).append("</span>");
  }
  out.append("</td>");
}

void last_probe_cell(std::string& out, const MemberStatus& m, std::int64_t now) {
  out.append("<td>");
  if (m.last_probe_ms <= 0) {
    out.append("<span class=\"muted\">not yet</span>");
  } else {
    out.append(m.last_probe_ok ? "passed" : "<span class=\"bad\">failed</span>");
    out.append(" <span class=\"since\" title=\"").append(format_utc(m.last_probe_ms)).append("\">");
    const std::string when = ago(m.last_probe_ms, now);
    out.append(when.empty() ? format_utc(m.last_probe_ms) : when).append("</span>");
  }
  out.append("</td>");
}

void member_row(std::string& out, const Snapshot& snap, const BalancerStatus& b, const MemberStatus& m,
                const HtmlOptions& opt) {
  const std::int64_t now = snap.generated_ms;
  identity_cells(out, b, m);
  state_cells(out, m, now);
  counter_cells(out, m);
  last_error_cell(out, m, now);
  last_probe_cell(out, m, now);
  if (opt.manager) member_actions(out, snap, b, m, opt);
  out.append("</tr>\n");
}

// "3 members, 2 up · 4.20 req/s · 0.02 errors/s · p50 12 ms · p99 250 ms (last minute)".
void summary_line(std::string& out, const BalancerStatus& b) {
  std::size_t up = 0;
  double requests = 0, errors = 0;
  latency::Buckets merged{};
  for (const MemberStatus& m : b.members) {
    if ((m.state == "ok" || m.state == "recovering") && m.activation != "stopped") ++up;
    requests += m.latency.requests_per_s[0];
    errors += m.latency.errors_per_s[0];
    for (std::size_t i = 0; i < merged.size(); ++i) merged[i] += m.latency.minute_buckets[i];
  }
  out.append("<p class=\"summary\">").append(std::to_string(b.members.size()));
  out.append(b.members.size() == 1 ? " member, " : " members, ").append(std::to_string(up)).append(" up");
  out.append(" &middot; ").append(rate(requests)).append(" req/s &middot; ");
  out.append(errors > 0 ? "<span class=\"err-count\">" : "<span>").append(rate(errors)).append(" errors/s</span>");
  out.append(" &middot; p50 ").append(human_ms(latency::quantile_ms(merged, 0.5)));
  out.append(" &middot; p99 ").append(human_ms(latency::quantile_ms(merged, 0.99)));
  out.append(" <span class=\"muted\">(last minute)</span></p>\n");
}

void balancer_section(std::string& out, const Snapshot& snap, const BalancerStatus& b, const HtmlOptions& opt) {
  out.append("<section class=\"balancer\" id=\"b-");
  esc(out, b.name);
  out.append("\">\n<h2>Balancer ");
  esc(out, b.name);
  out.append("</h2>\n");
  settings(out, b);
  summary_line(out, b);
  if (opt.manager) balancer_form(out, snap, b, opt);
  out.append(
      "<div class=\"scroll\">\n<table "
      "class=\"members\">\n<thead><tr><th>Member</th><th>Address</th><th>Route</th><th>Activation</th>"
      "<th>State</th><th>Factor</th><th>Busy</th><th>Requests</th><th>Req/s</th><th>p50 / p99</th>"
      "<th>Last 15 min</th><th>Errors</th><th>Bytes in</th><th>Bytes out</th><th>Sticky hits</th><th>Last "
      "error</th><th>Health check</th>");
  if (opt.manager) out.append("<th>Actions</th>");
  out.append("</tr></thead>\n<tbody>\n");
  for (const MemberStatus& m : b.members) member_row(out, snap, b, m, opt);
  out.append("</tbody>\n</table>\n</div>\n</section>\n");
}

constexpr std::array<std::pair<std::string_view, std::string_view>, 12> kColumns = {{
    {"Activation", "the operator's choice: active, disabled (sessions only), stopped, standby (used when no other is)"},
    {"State", "health as the balancer sees it: ok, error (taken out after faults, probed back), recovering"},
    {"Factor", "the load factor (1..100); a member gets requests in proportion to it"},
    {"Busy", "requests in flight on the member now, all httpd children together"},
    {"Requests", "attempts sent to the member since start (a retry elsewhere counts there too)"},
    {"Req/s", "attempts per second over the last minute"},
    {"p50 / p99", "response time of the last minute: reserving the member to the end of its answer"},
    {"Last 15 min",
     "per minute, the current one last: requests (blue), errors (red), p99 response time (purple); hover for the "
     "maximum"},
    {"Errors", "failures the member is blamed or counted for; client faults in brackets only"},
    {"Bytes in / out", "response body bytes received from the member / request body bytes sent to it (no headers)"},
    {"Sticky hits", "requests routed by their session's route"},
    {"Health check", "the last CPING probe's result"},
}};

void legend_section(std::string& out) {
  out.append("<section class=\"legend\">\n<h2>What the columns mean</h2>\n<dl class=\"legend\">\n");
  for (const auto& [column, meaning] : kColumns) {
    out.append("<dt>").append(column).append("</dt><dd>").append(meaning).append("</dd>\n");
  }
  out.append("</dl>\n</section>\n");
}

void events_section(std::string& out, const Snapshot& snap) {
  out.append("<section class=\"events\">\n<h2>Recent events</h2>\n");
  if (snap.events.empty()) {
    out.append("<p class=\"muted\">No events recorded.</p>\n");
  } else {
    out.append("<ol class=\"events\">\n");
    for (const Event& e : snap.events) {
      out.append("<li><span class=\"since\">").append(format_utc(e.time_ms)).append("</span> ");
      esc(out, e.balancer);
      if (!e.member.empty()) {
        out.append("/");
        esc(out, e.member);
      }
      out.append(": ");
      esc(out, e.text);
      out.append("</li>\n");
    }
    out.append("</ol>\n");
  }
  out.append("</section>\n");
}

}  // namespace

std::string render_html(const Snapshot& snap, const HtmlOptions& opt) {
  std::string out;
  out.reserve(8192 + 4096 * snap.balancers.size());
  const std::string_view title = opt.manager ? "mod_idmbalance balancer manager" : "mod_idmbalance status";
  out.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
  out.append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
  if (opt.refresh_seconds > 0) {
    out.append("<meta http-equiv=\"refresh\" content=\"").append(std::to_string(opt.refresh_seconds)).append("\">\n");
  }
  out.append("<title>").append(title).append("</title>\n<style>").append(kStyle).append("</style>\n</head>\n<body>\n");
  out.append("<header>\n<h1>").append(title).append("</h1>\n<p class=\"meta\">");
  out.append("version ");
  esc(out, snap.version);
  out.append(" &middot; table generation ").append(std::to_string(snap.generation));
  out.append(" &middot; generated ").append(format_utc(snap.generated_ms));
  if (opt.refresh_seconds > 0) {
    out.append(" &middot; refreshes every ").append(std::to_string(opt.refresh_seconds)).append("s");
  }
  if (!opt.json_url.empty()) {
    out.append(" &middot; <a href=\"");
    esc(out, opt.json_url);
    out.append("\">JSON</a>");
  }
  if (!opt.prometheus_url.empty()) {
    out.append(" &middot; <a href=\"");
    esc(out, opt.prometheus_url);
    out.append("\">Prometheus</a>");
  }
  out.append("</p>\n</header>\n<main>\n");
  if (snap.balancers.empty()) out.append("<p class=\"muted\">No balancers configured.</p>\n");
  for (const BalancerStatus& b : snap.balancers) balancer_section(out, snap, b, opt);
  events_section(out, snap);
  legend_section(out);
  out.append("</main>\n</body>\n</html>\n");
  return out;
}

}  // namespace idmb::status

// JkMount, JkUnMount and uriworkermap rules -> IdmMount, IdmUnmount, status <Location>s
// (converter.h).
#include <algorithm>
#include <optional>
#include <string>

#include "idmb/mount_map.h"

#include "../util/text.h"
#include "converter.h"
#include "workers_to_balancers.h"

namespace idmb::migrate {
namespace {

std::string at(const Origin& o) { return o.file + ":" + std::to_string(o.line) + ": error: "; }

// Why each rule extension has no per-mount equivalent.
std::string extension_reason(std::string_view ext) {
  if (ext == "active" || ext == "disabled" || ext == "stopped") {
    return "member activation is per balancer, not per mount: set status= on the IdmMember, or define a second "
           "balancer for these paths";
  }
  if (ext == "reply_timeout") return "timeouts are per balancer: IdmReplyTimeout in a balancer for these paths";
  if (ext == "fail_on_status") return "IdmFailOnStatus is per balancer: use a balancer for these paths";
  if (ext == "use_server_errors") return "no equivalent: Tomcat's error pages are passed on";
  if (ext == "stateless" || ext == "sticky_ignore") return "every request with a session id is sticky";
  return "no per-mount settings (session names are set by IdmSticky in the balancer)";
}

}  // namespace

Status Converter::mount_file(const std::string& path, const Origin& origin, const Where& where,
                             const std::string& indent) {
  auto text = read(path, origin);
  if (!text) return fail(text.error());
  auto lines = read_property_lines(*text, path, options_.env);
  if (!lines) return fail(lines.error());
  out_.note(indent, "rules from " + path);
  for (const Property& p : *lines) {
    auto rule = parse_uri_rule(p.key, p.value);
    if (!rule) return fail(at(p.origin) + rule.error());
    out_.comment(indent, "mod_jk: " + p.key + "=" + p.value);
    mount_rule(*rule, p.origin, where, indent);
  }
  return Ok{};
}

void Converter::mount_rule(const UriRule& rule, const Origin& origin, const Where& where, const std::string& indent) {
  if (rule.disabled) {
    out_.note(indent, "a disabled rule ('-'): nothing to write");
    return;
  }
  for (const auto& [ext, value] : rule.extensions) {
    out_.warn(indent, origin, "rule extension " + ext + "=" + value + " is not carried over: " + extension_reason(ext));
  }
  if (rule.patterns.empty()) return mount_in_location(rule, origin, where, indent);
  if (!where.location.empty()) {
    out_.warn(indent, origin, "a JkMount with a pattern inside <Location> is not carried over: move it out");
    return;
  }
  const Worker* w = rule.worker == "*" ? nullptr : workers_.find(rule.worker);
  const bool listed = std::find(workers_.list.begin(), workers_.list.end(), rule.worker) != workers_.list.end();
  if (rule.worker != "*" && (w == nullptr || (w->type != WorkerType::Lb && !listed))) {
    out_.warn(indent, origin, "worker " + text::quoted(rule.worker) + " is not in worker.list: not mounted");
    return;
  }
  for (const std::string& pattern : rule.patterns) {
    if (w && w->type == WorkerType::Status) {
      if (rule.exclusion) {
        out_.warn(indent, origin, "an unmount of the status worker is not carried over: restrict its <Location>");
      } else {
        status_location(*w, pattern, origin, where, indent);
      }
    } else if (w && w->type == WorkerType::Other) {
      out_.warn(indent, origin, "worker " + rule.worker + " (type " + w->type_text + ") is not carried over");
    } else {
      out_.directive(indent, where.scope, origin, rule.exclusion ? "IdmUnmount" : "IdmMount", {pattern, rule.worker});
    }
  }
}

void Converter::mount_in_location(const UriRule& rule, const Origin& origin, const Where& where,
                                  const std::string& indent) {
  if (where.location.empty()) {
    out_.warn(indent, origin, "a JkMount without a pattern outside <Location> does nothing: not carried over");
    return;
  }
  const Worker* w = workers_.find(rule.worker);
  if (w && w->type == WorkerType::Status && !rule.exclusion) {
    out_.line(indent, "SetHandler " + status_handler(*w, out_, indent));
    return;
  }
  // mod_jk adds the section's argument, verbatim, to the server's mounts as a pattern of its own
  // (mod_jk.c, jk_mount_context: cmd->path): a <Location /app> mounts exactly /app, and a
  // <LocationMatch RE> the text RE as a '*'/'?' pattern, not what the expression matches.
  const std::string directive = rule.exclusion ? "IdmUnmount" : "IdmMount";
  const std::string worker = rule.worker.empty() ? "*" : rule.worker;
  if (where.location_match) {
    if (auto refused = located_pattern_refused(where.location)) {
      out_.warn(indent, origin,
                "mod_jk takes the <LocationMatch> expression as a path pattern, " + *refused + ": not carried over; " +
                    directive + " " + worker +
                    " inside the <LocationMatch> applies it to every path the expression matches");
      return;
    }
    out_.warn(indent, origin,
              "mod_jk takes the <LocationMatch> expression as a path pattern, not as an expression: " + directive +
                  " " + conf_word(where.location) + " " + worker +
                  " (the same) follows the section; to apply it to every path the expression matches, "
                  "write " +
                  directive + " " + worker + " inside the <LocationMatch> instead");
  } else {
    out_.note(indent, directive + " " + conf_word(where.location) + " " + worker +
                          " (this exact path, as mod_jk maps it) follows the </Location>; " + directive + " " + worker +
                          " here would apply to every path the <Location> covers");
  }
  location_mounts_.push_back({origin, where.location, worker, rule.exclusion});
}

// Why the text of a location section cannot be a mount pattern (mod_jk refuses one that does
// not start with '/'; ours refuses what normalisation makes unmatchable), or nullopt.
std::optional<std::string> Converter::located_pattern_refused(const std::string& pattern) {
  if (pattern.empty() || pattern.front() != '/') return "which mod_jk refuses unless it starts with '/'";
  MountMap probe;
  if (auto checked = probe.mount(pattern, "w"); !checked) return "which cannot be a mount (" + checked.error() + ")";
  return std::nullopt;
}

void Converter::status_location(const Worker& w, const std::string& pattern, const Origin& origin, const Where& where,
                                const std::string& indent) {
  (void)origin;
  (void)where;
  std::string open;
  std::string close;
  if (pattern.size() > 2 && pattern.substr(pattern.size() - 2) == "/*" &&
      pattern.find_first_of("*?") == pattern.size() - 1) {
    open = "<Location " + conf_word(pattern.substr(0, pattern.size() - 2)) + ">";
    close = "</Location>";
  } else {
    open = "<LocationMatch " + conf_word(glob_to_regex(pattern)) + ">";
    close = "</LocationMatch>";
  }
  out_.line(indent, open);
  out_.line(indent + "    ", "SetHandler " + status_handler(w, out_, indent + "    "));
  out_.line(indent, close);
}

}  // namespace idmb::migrate

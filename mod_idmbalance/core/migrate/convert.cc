// The conversion's two passes over the httpd config files (converter.h, migrate.h).
#include <regex>
#include <string>

#include "../util/ascii.h"
#include "../util/text.h"
#include "converter.h"
#include "idmb/config.h"
#include "idmb/directives.h"

namespace idmb::migrate {
namespace {

std::string at(const Origin& o) { return o.file + ":" + std::to_string(o.line) + ": error: "; }

std::vector<std::string> words(const std::string& rest) { return config::split_directive_args(rest); }

// The variables mod_jk reads even without an indicator line, and the field each overrides.
constexpr std::pair<std::string_view, std::string_view> kDefaultIndicators[] = {
    {"JK_REMOTE_ADDR", "remote_addr"}, {"JK_REMOTE_PORT", "remote_port"}, {"JK_REMOTE_HOST", "remote_host"},
    {"JK_REMOTE_USER", "remote_user"}, {"JK_AUTH_TYPE", "auth_type"},     {"JK_LOCAL_NAME", "local_name"},
    {"JK_LOCAL_ADDR", "local_addr"},   {"JK_LOCAL_PORT", "local_port"},
};

bool sets_environment(std::string_view name) {
  for (std::string_view d : {"SetEnv", "SetEnvIf", "SetEnvIfNoCase", "SetEnvIfExpr", "UnsetEnv", "BrowserMatch",
                             "BrowserMatchNoCase", "RewriteRule", "PassEnv"}) {
    if (ascii::iequals(name, d)) return true;
  }
  return false;
}

// `no-jk` as a word (an env name in SetEnv*, or inside E=no-jk) -> `no-idmbalance`.
std::string rename_no_jk(const std::string& line, bool& changed) {
  static const std::regex kNoJk(R"((^|[\s!=,\[])no-jk(?=$|[\s=,\]:]))");
  std::string out = std::regex_replace(line, kNoJk, "$1no-idmbalance");
  changed = out != line;
  return out;
}

bool is_jk_module_test(std::string_view arg) {
  if (!arg.empty() && arg.front() == '!') arg.remove_prefix(1);
  return arg == "mod_jk.c" || arg == "jk_module" || arg == "mod_jk.c>" || arg == "jk_module>";
}

}  // namespace

std::string glob_to_regex(std::string_view pattern) {
  std::string re = "^";
  for (char c : pattern) {
    if (c == '*') {
      re += ".*";
    } else if (c == '?') {
      re += '.';
    } else {
      if (std::string_view(".^$|()[]{}+\\").find(c) != std::string_view::npos) re += '\\';
      re += c;
    }
  }
  return re + "$";
}

std::string Converter::resolve(const std::string& path) const {
  if (!path.empty() && path.front() == '/') return path;
  return server_root_ + "/" + path;
}

Expected<std::string> Converter::read(const std::string& path, const Origin& origin) const {
  auto text = options_.read ? options_.read(path) : std::nullopt;
  if (!text) {
    const std::string where = origin.file.empty() ? "" : at(origin);
    return fail((where.empty() ? path + ": error: " : where) + "cannot read " + path);
  }
  return *text;
}

Status Converter::scan(const std::string& file, const std::vector<ConfLine>& lines) {
  bool in_vhost = false;
  for (const ConfLine& l : lines) {
    const Origin o{file, l.number};
    if (ascii::iequals(l.name, "<VirtualHost")) in_vhost = true;
    if (ascii::iequals(l.name, "</VirtualHost>")) in_vhost = false;
    const auto args = words(l.rest);
    if (ascii::iequals(l.name, "ServerRoot") && !args.empty() && !options_.server_root_given) {
      server_root_ = args[0];
    } else if (ascii::iequals(l.name, "JkWorkersFile") && !args.empty() && !workers_file_) {
      workers_file_ = args[0];
      workers_origin_ = o;
    } else if (ascii::iequals(l.name, "JkWorkerProperty") && !l.rest.empty()) {
      worker_properties_.push_back(Property{"", l.rest, o});
    } else if (ascii::iequals(l.name, "JkMountCopy") && !in_vhost && !args.empty()) {
      mount_copy_all_ = ascii::iequals(args[0], "All");
    } else if (ascii::iequals(l.name, "JkMountFile")) {
      has_mount_file_ = true;
    } else if (sets_environment(l.name)) {
      for (const auto& [var, field] : kDefaultIndicators) {
        if (l.rest.find(var) != std::string::npos) jk_variables_set_.insert(std::string(var));
      }
    }
  }
  return Ok{};
}

Status Converter::load_workers() {
  Properties props;
  std::optional<std::string> file = options_.workers_file;
  if (!file && workers_file_) file = resolve(*workers_file_);
  if (file) {
    auto text = read(*file, options_.workers_file ? Origin{} : workers_origin_);
    if (!text) return fail(text.error());
    if (auto st = props.add_text(*text, *file, options_.env); !st) return st;
  }
  for (const Property& p : worker_properties_) {
    if (auto st = props.add_line(p.value, p.origin, options_.env); !st) return st;
  }
  auto workers = resolve_workers(props);
  if (!workers) return fail(workers.error());
  workers_ = std::move(*workers);
  return Ok{};
}

void Converter::track_sections(const ConfLine& l, Where& where) {
  if (ascii::iequals(l.name, "<VirtualHost")) {
    where.scope = ++vhosts_;
  } else if (ascii::iequals(l.name, "</VirtualHost>")) {
    where.scope = 0;
  } else if (ascii::iequals(l.name, "<Location") || ascii::iequals(l.name, "<LocationMatch")) {
    std::string arg = l.rest;
    if (!arg.empty() && arg.back() == '>') arg.pop_back();
    const auto w = words(arg);
    // "<Location ~ RE>" is a <LocationMatch RE>.
    const bool tilde = w.size() > 1 && w[0] == "~";
    where.location = w.empty() ? "" : w[tilde ? 1 : 0];
    where.location_match = tilde || ascii::iequals(l.name, "<LocationMatch");
  } else if (ascii::iequals(l.name, "</Location>") || ascii::iequals(l.name, "</LocationMatch>")) {
    where.location.clear();
  }
}

Status Converter::emit_line(const ConfLine& l, Where& where) {
  const Origin o{where.file, l.number};
  track_sections(l, where);
  if (ascii::istarts_with(l.name, "Jk")) return jk_directive(l, where);
  const auto args = words(l.rest);
  if (ascii::iequals(l.name, "LoadModule") && !args.empty() && args[0] == "jk_module") {
    out_.comment(l.indent, "mod_jk: " + l.logical);
    out_.note(l.indent, "mod_idmbalance is loaded by its own LoadModule (a2enmod idmbalance)");
  } else if (ascii::iequals(l.name, "<IfModule") && !args.empty() && is_jk_module_test(args[0])) {
    out_.comment(l.indent, "mod_jk: " + l.logical);
    out_.line(l.indent, std::string("<IfModule ") + (args[0].front() == '!' ? "!" : "") + "idmbalance_module>");
  } else if (ascii::iequals(l.name, "SetHandler") && !args.empty() && args[0] == "jakarta-servlet") {
    out_.comment(l.indent, "mod_jk: " + l.logical);
    out_.warn(l.indent, o, "SetHandler jakarta-servlet has no equivalent: mount the path with IdmMount instead");
  } else if (sets_environment(l.name)) {
    bool changed = false;
    const std::string renamed = rename_no_jk(l.physical, changed);
    if (changed) out_.comment(l.indent, "mod_jk: " + l.logical);
    out_.line("", renamed);
  } else {
    out_.line("", l.physical);
  }
  if (where.location.empty()) {
    for (const LocationMount& m : location_mounts_) {
      out_.directive(l.indent, where.scope, m.origin, m.exclusion ? "IdmUnmount" : "IdmMount", {m.path, m.worker});
    }
    location_mounts_.clear();
  }
  return Ok{};
}

Status Converter::emit(const std::string& file, const std::vector<ConfLine>& lines) {
  Where where;
  where.file = file;
  for (const ConfLine& l : lines) {
    if (auto st = emit_line(l, where); !st) return st;
  }
  return Ok{};
}

Expected<Result> Converter::run(const std::vector<std::string>& files) {
  server_root_ = options_.server_root;
  std::vector<std::vector<ConfLine>> parsed;
  for (const std::string& f : files) {
    auto text = read(f, Origin{});
    if (!text) return fail(text.error());
    parsed.push_back(read_conf_lines(*text));
    if (auto st = scan(f, parsed.back()); !st) return fail(st.error());
  }
  if (auto st = load_workers(); !st) return fail(st.error());
  const bool need_block =
      !workers_file_ && (options_.workers_file || !worker_properties_.empty() || options_.uriworkermap_file);
  for (std::size_t i = 0; i < files.size(); ++i) {
    out_.comment("", "idmbalance-migrate: converted from " + files[i]);
    if (i == 0 && need_block) {
      if (auto st = write_balancer_block(Origin{files[0], 0}); !st) return fail(st.error());
    }
    if (auto st = emit(files[i], parsed[i]); !st) return fail(st.error());
  }
  if (auto st = validate(out_.directives(), vhosts_ + 1); !st) return fail(st.error());
  return Result{std::move(out_.text()), std::move(warnings_)};
}

Expected<Result> convert(const std::vector<std::string>& conf_files, const Options& options) {
  Converter c(options);
  return c.run(conf_files);
}

}  // namespace idmb::migrate

// Each Jk* directive of the httpd config -> mod_idmbalance's (converter.h).
#include <string>

#include "../util/ascii.h"
#include "../util/text.h"
#include "converter.h"
#include "idmb/directives.h"
#include "workers_to_balancers.h"

namespace idmb::migrate {
namespace {

std::vector<std::string> words(const std::string& rest) { return config::split_directive_args(rest); }

// Directives dropped with a note only: nothing to configure here.
constexpr std::pair<std::string_view, std::string_view> kNoted[] = {
    {"JkLogFile", "the module logs to httpd's error log"},
    {"JkLogLevel", "set LogLevel idmbalance:LEVEL instead"},
    {"JkLogStampFormat", "the module logs to httpd's error log"},
    {"JkShmFile", "the shared table is anonymous memory, no file"},
    {"JkShmSize", "the shared table is sized from the config"},
    {"JkWatchdogInterval", "health probes run on their own schedule (IdmHealthCheck)"},
    {"JkMountFileReload", "the converted rules are in the config: reload with apachectl graceful"},
    {"JkRequestIdIndicator", "no separate log to mark; httpd's %L and mod_unique_id cover it"},
    {"JkCERTCHAINPrefix", "the client certificate chain is read from mod_ssl directly"},
};

// Directives with no equivalent: a warning that says what to do instead.
constexpr std::pair<std::string_view, std::string_view> kWarned[] = {
    {"JkAutoAlias", "no equivalent: serve the webapps' static files with Alias and <Directory>"},
    {"JkWorkerIndicator", "no equivalent: mount the paths with IdmMount"},
    {"JkRequestLogFormat",
     "no separate request log: use LogFormat with %{IDMB_BALANCER}e (%w), %{IDMB_MEMBER}e (%R), "
     "%{IDMB_BACKEND_US}e (%T, time at the backend, in microseconds), %{IDMB_ATTEMPTS}e and %{IDMB_FIRST_MEMBER}e"},
    {"JkIgnoreCLIndicator", "no equivalent: Content-Length is always honoured"},
};

struct IndicatorDirective {
  std::string_view directive;
  std::string_view field;
  std::string_view mod_ssl_default;  // the mod_ssl variable mod_jk reads by default ("" for JK_*)
};

constexpr IndicatorDirective kIndicators[] = {
    {"JkHTTPSIndicator", "https", "HTTPS"},
    {"JkSSLPROTOCOLIndicator", "ssl_protocol", "SSL_PROTOCOL"},
    {"JkCIPHERIndicator", "ssl_cipher", "SSL_CIPHER"},
    {"JkSESSIONIndicator", "ssl_session", "SSL_SESSION_ID"},
    {"JkKEYSIZEIndicator", "ssl_key_size", "SSL_CIPHER_USEKEYSIZE"},
    {"JkCERTSIndicator", "ssl_cert", "SSL_CLIENT_CERT"},
    {"JkRemoteAddrIndicator", "remote_addr", ""},
    {"JkRemotePortIndicator", "remote_port", ""},
    {"JkRemoteHostIndicator", "remote_host", ""},
    {"JkRemoteUserIndicator", "remote_user", ""},
    {"JkAuthTypeIndicator", "auth_type", ""},
    {"JkLocalNameIndicator", "local_name", ""},
    {"JkLocalAddrIndicator", "local_addr", ""},
    {"JkLocalPortIndicator", "local_port", ""},
};

constexpr std::pair<std::string_view, std::string_view> kDefaultIndicatorFields[] = {
    {"JK_REMOTE_ADDR", "remote_addr"}, {"JK_REMOTE_PORT", "remote_port"}, {"JK_REMOTE_HOST", "remote_host"},
    {"JK_REMOTE_USER", "remote_user"}, {"JK_AUTH_TYPE", "auth_type"},     {"JK_LOCAL_NAME", "local_name"},
    {"JK_LOCAL_ADDR", "local_addr"},   {"JK_LOCAL_PORT", "local_port"},
};

// JkOptions flags: what each means here.
struct OptionFlag {
  std::string_view flag;
  bool warn;  // false: the module does this anyway (a note)
  std::string_view text;
};

constexpr OptionFlag kOptionFlags[] = {
    {"ForwardURIProxy", false, "the path is forwarded as the client encoded it, after normalisation"},
    {"ForwardURICompatUnparsed", false, "the path is forwarded as the client encoded it, after normalisation"},
    {"ForwardURICompat", true, "the decoded path is never forwarded (double decoding); the client's encoding is"},
    {"ForwardURIEscaped", true, "the path is forwarded as the client encoded it, not re-escaped"},
    {"RejectUnsafeURI", true, "no option: refuse such URIs with mod_rewrite or <LocationMatch> and Require"},
    {"ForwardDirectories", true, "no equivalent: mount the directory paths with IdmMount"},
    {"ForwardLocalAddress", true, "no option: the client's address is forwarded"},
    {"ForwardPhysicalAddress", true, "no option: the address mod_remoteip gives is forwarded"},
    {"FlushPackets", true, "no option: each AJP body chunk is passed on to the client as it arrives"},
    {"FlushHeader", true, "no option: the response head is passed on with the first body chunk"},
    {"DisableReuse", true, "no option: set IdmPoolSize 1 and a short IdmPoolIdleTimeout to keep few connections"},
    {"ForwardKeySize", false, "the key size is always forwarded with mod_ssl"},
    {"ForwardSSLCertChain", false, "the client certificate chain is always forwarded with mod_ssl"},
    {"CollapseSlashesAll", false, "paths are always normalised"},
    {"CollapseSlashesNone", false, "paths are always normalised"},
    {"CollapseSlashesUnmount", false, "paths are always normalised"},
};

template <class Table>
const auto* find_in(const Table& table, std::string_view name) {
  for (const auto& entry : table) {
    if (ascii::iequals(entry.first, name)) return &entry;
  }
  return static_cast<decltype(&table[0])>(nullptr);
}

}  // namespace

Status Converter::jk_directive(const ConfLine& l, const Where& where) {
  const Origin o{where.file, l.number};
  const std::string& in = l.indent;
  const auto args = words(l.rest);
  out_.comment(in, "mod_jk: " + l.logical);
  const std::string& n = l.name;
  if (ascii::iequals(n, "JkWorkersFile")) {
    if (!balancers_written_) return write_balancer_block(o);
    out_.note(in, "a second JkWorkersFile is ignored, as mod_jk ignores it");
  } else if (ascii::iequals(n, "JkWorkerProperty")) {
    out_.note(in, "carried into the balancers (written where JkWorkersFile stood)");
  } else if (ascii::iequals(n, "JkMountFile")) {
    if (args.empty()) return fail(o.file + ":" + std::to_string(o.line) + ": error: JkMountFile needs a file");
    return mount_file(options_.uriworkermap_file.value_or(resolve(args[0])), o, where, in);
  } else if (ascii::iequals(n, "JkMount") || ascii::iequals(n, "JkUnMount")) {
    const bool un = ascii::iequals(n, "JkUnMount");
    if (args.empty() || args.size() > 2) {
      out_.warn(in, o, n + " takes PATTERN WORKER (or WORKER in <Location>): not carried over");
      return Ok{};
    }
    auto rule = args.size() == 1 ? parse_mount_args("", args[0], un) : parse_mount_args(args[0], args[1], un);
    if (!rule) return fail(o.file + ":" + std::to_string(o.line) + ": error: " + n + ": " + rule.error());
    mount_rule(*rule, o, where, in);
  } else if (ascii::iequals(n, "JkMountCopy")) {
    mount_copy(args, o, where, in);
  } else if (ascii::iequals(n, "JkEnvVar")) {
    out_.directive(in, where.scope, o, "IdmEnvAttribute", args);
  } else if (ascii::iequals(n, "JkStripSession")) {
    out_.directive(in, where.scope, o, "IdmStripSession", args);
  } else if (ascii::iequals(n, "JkOptions")) {
    options(args, o, in);
  } else if (ascii::iequals(n, "JkExtractSSL")) {
    if (!args.empty() && ascii::iequals(args[0], "Off")) {
      out_.warn(in, o, "JkExtractSSL Off has no equivalent: mod_ssl's data is always forwarded");
    } else {
      out_.note(in, "mod_ssl's data is always forwarded");
    }
  } else if (const auto* noted = find_in(kNoted, n)) {
    out_.note(in, "dropped: " + std::string(noted->second));
  } else if (const auto* warned = find_in(kWarned, n)) {
    out_.warn(in, o, n + ": " + std::string(warned->second));
  } else {
    for (const IndicatorDirective& d : kIndicators) {
      if (ascii::iequals(d.directive, n)) {
        indicator(n, args, o, where, in);
        return Ok{};
      }
    }
    out_.warn(in, o, n + " is not a mod_jk directive the converter knows: not carried over");
  }
  return Ok{};
}

void Converter::indicator(std::string_view directive, const std::vector<std::string>& args, const Origin& origin,
                          const Where& where, const std::string& indent) {
  for (const IndicatorDirective& d : kIndicators) {
    if (!ascii::iequals(d.directive, directive)) continue;
    if (args.size() != 1) {
      out_.warn(indent, origin, std::string(directive) + " takes one variable name: not carried over");
      return;
    }
    if (!d.mod_ssl_default.empty() && args[0] == d.mod_ssl_default) {
      out_.note(indent, "mod_ssl's own value is forwarded; nothing to configure");
      return;
    }
    indicators_written_.insert(std::string(d.field));
    out_.directive(indent, where.scope, origin, "IdmEnvIndicator", {std::string(d.field), args[0]});
  }
}

void Converter::options(const std::vector<std::string>& args, const Origin& origin, const std::string& indent) {
  for (std::string flag : args) {
    const bool minus = !flag.empty() && flag.front() == '-';
    if (!flag.empty() && (flag.front() == '+' || flag.front() == '-')) flag.erase(0, 1);
    const OptionFlag* found = nullptr;
    for (const OptionFlag& f : kOptionFlags) {
      if (ascii::iequals(f.flag, flag)) found = &f;
    }
    if (found == nullptr) {
      out_.warn(indent, origin, "JkOptions " + flag + " is not a flag the converter knows: not carried over");
    } else if (found->warn && !minus) {
      out_.warn(indent, origin, "JkOptions " + flag + ": " + std::string(found->text));
    } else {
      out_.note(indent, "JkOptions " + std::string(minus ? "-" : "") + flag + ": " + std::string(found->text));
    }
  }
}

void Converter::mount_copy(const std::vector<std::string>& args, const Origin& origin, const Where& where,
                           const std::string& indent) {
  const std::string value = args.empty() ? "" : ascii::lowered(args[0]);
  if (where.scope == 0) {
    // The main server's IdmMountCopy is written with the balancers (mod_jk's default is Off).
    out_.note(indent, "the main server's default is written with the balancers");
    return;
  }
  if (value != "on" && value != "off" && value != "all") {
    out_.warn(indent, origin, "JkMountCopy takes On, Off or All: not carried over");
    return;
  }
  out_.directive(indent, where.scope, origin, "IdmMountCopy", {value == "off" ? "Off" : "On"});
}

Status Converter::write_balancer_block(const Origin& origin) {
  balancers_written_ = true;
  out_.note("", "balancers from " + (options_.workers_file ? *options_.workers_file
                                     : workers_file_       ? resolve(*workers_file_)
                                                           : "JkWorkerProperty"));
  std::set<std::string> direct;
  for (const std::string& name : workers_.list) direct.insert(name);
  write_balancers(workers_, direct, out_);
  out_.line("", "");
  const Where main{0, "", false, origin.file};
  out_.directive("", 0, origin, "IdmMountCopy", {mount_copy_all_ ? "On" : "Off"});
  for (const auto& [var, field] : kDefaultIndicatorFields) {
    if (!jk_variables_set_.count(std::string(var)) || indicators_written_.count(std::string(field))) continue;
    out_.directive("", 0, origin, "IdmEnvIndicator", {std::string(field), std::string(var)});
  }
  for (const std::string& name : workers_.list) {
    const Worker* w = workers_.find(name);
    const Property* mount = w ? w->get("mount") : nullptr;
    if (mount == nullptr) continue;
    for (const std::string& pattern : split_list(mount->value)) {
      auto rule = parse_mount_args(pattern, name, false);
      if (!rule)
        return fail(mount->origin.file + ":" + std::to_string(mount->origin.line) + ": error: " + rule.error());
      mount_rule(*rule, mount->origin, main, "");
    }
  }
  if (options_.uriworkermap_file && !has_mount_file_) return mount_file(*options_.uriworkermap_file, origin, main, "");
  return Ok{};
}

}  // namespace idmb::migrate

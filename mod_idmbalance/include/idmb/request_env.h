// What the request's environment (httpd's subprocess_env, as SetEnv, SetEnvIf, mod_rewrite's
// E= or an SSO module set it) may change about a request, always through names the
// configuration gives, never through names a client chooses:
//   IdmEnvAttribute NAME [DEFAULT]  variable NAME goes to Tomcat as request attribute NAME
//                                   (mod_jk's JkEnvVar);
//   IdmEnvIndicator FIELD VARIABLE  VARIABLE's value replaces what is forwarded for FIELD, for a
//                                   TLS terminator or proxy in front (JkHTTPSIndicator,
//                                   JkRemoteAddrIndicator and friends);
//   no-idmbalance                   set, the request is not forwarded (mod_jk's no-jk);
//   IdmStripSession On [NAME]       ";NAME=..." removed from URLs that httpd serves itself.
#pragma once

#include <array>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "idmb/ajp_codec.h"
#include "idmb/expected.h"

namespace idmb::request {

// The variable that keeps a mounted request from being forwarded (mod_jk's "no-jk").
inline constexpr std::string_view kNoForwardVariable = "no-idmbalance";

struct EnvAttribute {
  std::string name;                     // the variable, and the attribute's name
  std::optional<std::string> fallback;  // DEFAULT: sent when the variable is unset
};

// IdmEnvIndicator's FIELDs, in the order the README lists them.
enum class EnvField {
  Https,  // "on" (any case) means TLS; any other value means none
  RemoteAddr,
  RemotePort,
  RemoteHost,
  RemoteUser,
  AuthType,
  LocalName,
  LocalAddr,
  LocalPort,
  SslProtocol,
  SslCipher,
  SslSession,
  SslKeySize,
  SslCert,
};
inline constexpr std::size_t kEnvFieldCount = 14;

struct EnvIndicator {
  EnvField field;
  std::string variable;
};

std::string_view to_string(EnvField field);  // "https", "remote_addr", ...
std::optional<EnvField> parse_env_field(std::string_view text);

// Environment variable names as the config may give them: 1..255 bytes of A-Z a-z 0-9 _ . : -.
bool is_valid_env_name(std::string_view name);

// The request's environment. get() gives a variable's value, nullopt when unset; the views
// must live as long as the request (httpd's request pool).
class EnvLookup {
 public:
  virtual ~EnvLookup() = default;
  virtual std::optional<std::string_view> get(std::string_view name) const = 0;
};

// Applies the configured indicators, then the configured attributes, to what Tomcat receives.
// The SSL fields (ssl_*) are overridden only when the request is TLS after the https
// indicator, as mod_jk reads them only then. A value that is not a number for remote_port,
// local_port or ssl_key_size is ignored.
void apply_env(std::span<const EnvIndicator> indicators, std::span<const EnvAttribute> attributes,
               const EnvLookup& lookup, ajp::ForwardRequest& request);

// `path` without its ";NAME=..." path parameters (in every segment; NAME compared without
// regard to case, as mod_jk does), or nullopt when it has none.
std::optional<std::string> strip_path_parameter(std::string_view path, std::string_view name);

}  // namespace idmb::request

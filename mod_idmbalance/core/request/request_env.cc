// The request's environment as the configuration lets it steer a request (request_env.h).
#include "idmb/request_env.h"

#include <algorithm>

#include "../util/ascii.h"

namespace idmb::request {
namespace {

constexpr std::array<std::string_view, kEnvFieldCount> kFieldNames = {
    "https",      "remote_addr", "remote_port",  "remote_host", "remote_user", "auth_type",    "local_name",
    "local_addr", "local_port",  "ssl_protocol", "ssl_cipher",  "ssl_session", "ssl_key_size", "ssl_cert",
};

bool is_ssl_field(EnvField field) {
  return field == EnvField::SslProtocol || field == EnvField::SslCipher || field == EnvField::SslSession ||
         field == EnvField::SslKeySize || field == EnvField::SslCert;
}

// Replaces the built-in attribute `name`, or adds it.
void set_attribute(ajp::ForwardRequest& request, std::string_view name, std::string_view value) {
  for (ajp::Header& a : request.request_attributes) {
    if (a.name == name) {
      a.value = value;
      return;
    }
  }
  request.request_attributes.push_back({name, value});
}

std::optional<std::uint16_t> port_number(std::string_view text) {
  const auto n = ascii::parse_decimal(text, 65535);
  if (!n) return std::nullopt;
  return static_cast<std::uint16_t>(*n);
}

void override_field(EnvField field, std::string_view value, ajp::ForwardRequest& r) {
  switch (field) {
    case EnvField::Https: r.is_ssl = ascii::iequals(value, "on"); break;
    case EnvField::RemoteAddr: r.remote_addr = value; break;
    case EnvField::RemotePort:
      if (port_number(value)) set_attribute(r, "AJP_REMOTE_PORT", value);
      break;
    case EnvField::RemoteHost: r.remote_host = value; break;
    case EnvField::RemoteUser: r.remote_user = value; break;
    case EnvField::AuthType: r.auth_type = value; break;
    case EnvField::LocalName: r.server_name = value; break;
    case EnvField::LocalAddr: set_attribute(r, "AJP_LOCAL_ADDR", value); break;
    case EnvField::LocalPort:
      if (auto port = port_number(value)) r.server_port = *port;
      break;
    case EnvField::SslProtocol: set_attribute(r, "AJP_SSL_PROTOCOL", value); break;
    case EnvField::SslCipher: r.ssl_cipher = value; break;
    case EnvField::SslSession: r.ssl_session = value; break;
    case EnvField::SslKeySize:
      if (auto bits = port_number(value)) r.ssl_key_size = *bits;
      break;
    case EnvField::SslCert: r.ssl_cert = value; break;
  }
}

}  // namespace

std::string_view to_string(EnvField field) { return kFieldNames[static_cast<std::size_t>(field)]; }

std::optional<EnvField> parse_env_field(std::string_view text) {
  for (std::size_t i = 0; i < kFieldNames.size(); ++i) {
    if (ascii::iequals(text, kFieldNames[i])) return static_cast<EnvField>(i);
  }
  return std::nullopt;
}

bool is_valid_env_name(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return ascii::is_alnum(c) || c == '_' || c == '.' || c == ':' || c == '-'; });
}

void apply_env(std::span<const EnvIndicator> indicators, std::span<const EnvAttribute> attributes,
               const EnvLookup& lookup, ajp::ForwardRequest& request) {
  // https first: whether the SSL fields apply depends on it.
  for (int pass = 0; pass < 2; ++pass) {
    for (const EnvIndicator& indicator : indicators) {
      if ((indicator.field == EnvField::Https) != (pass == 0)) continue;
      if (is_ssl_field(indicator.field) && !request.is_ssl) continue;
      if (auto value = lookup.get(indicator.variable)) override_field(indicator.field, *value, request);
    }
  }
  for (const EnvAttribute& attribute : attributes) {
    if (auto value = lookup.get(attribute.name)) {
      request.configured_attributes.push_back({attribute.name, *value});
    } else if (attribute.fallback) {
      request.configured_attributes.push_back({attribute.name, *attribute.fallback});
    }
  }
}

std::optional<std::string> strip_path_parameter(std::string_view path, std::string_view name) {
  std::string out;
  bool stripped = false;
  std::size_t at = 0;
  while (at < path.size()) {
    const std::size_t semi = path.find(';', at);
    if (semi == std::string_view::npos) break;
    const std::string_view rest = path.substr(semi + 1);
    const bool ours = rest.size() >= name.size() && ascii::iequals(rest.substr(0, name.size()), name) &&
                      (rest.size() == name.size() || rest[name.size()] == '=' || rest[name.size()] == ';' ||
                       rest[name.size()] == '/');
    // The parameter runs to the next ';' or '/'.
    const std::size_t end = std::min(path.find_first_of(";/", semi + 1), path.size());
    out.append(path.substr(at, semi - at));
    if (ours) {
      stripped = true;
    } else {
      out.append(path.substr(semi, end - semi));
    }
    at = end;
  }
  if (!stripped) return std::nullopt;
  out.append(path.substr(std::min(at, path.size())));
  return out;
}

}  // namespace idmb::request

// The request's environment as the config lets it steer a request (request_env.h): the
// attributes of IdmEnvAttribute, the overrides of IdmEnvIndicator, IdmStripSession's strip.
#include <catch2/catch.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "idmb/request_env.h"

using namespace idmb;
using request::EnvAttribute;
using request::EnvField;
using request::EnvIndicator;

namespace {

// An environment, and which names were looked up in it.
struct Env final : request::EnvLookup {
  std::map<std::string, std::string> vars;
  mutable std::vector<std::string> asked;
  std::optional<std::string_view> get(std::string_view name) const override {
    asked.emplace_back(name);
    auto found = vars.find(std::string(name));
    return found == vars.end() ? std::nullopt : std::optional<std::string_view>(found->second);
  }
  const Env& lookup() const { return *this; }
};

ajp::ForwardRequest plain_request() {
  ajp::ForwardRequest r;
  r.remote_addr = "127.0.0.1";
  r.server_name = "front";
  r.server_port = 80;
  r.request_attributes = {{"AJP_REMOTE_PORT", "40000"}, {"AJP_LOCAL_ADDR", "127.0.0.1"}};
  return r;
}

}  // namespace

TEST_CASE("request env: attributes are the configured names only, with their defaults", "[request][env]") {
  Env env;
  env.vars = {{"eppn", "alice@example.org"}, {"Shib-Session-ID", "_abc"}, {"Unlisted", "x"}};
  const std::vector<EnvAttribute> attributes = {
      {"eppn", std::nullopt}, {"affiliation", std::nullopt}, {"Shib-Session-ID", "none"}, {"entitlement", "none"}};
  ajp::ForwardRequest r = plain_request();
  request::apply_env({}, attributes, env.lookup(), r);
  REQUIRE(r.configured_attributes.size() == 3);
  CHECK(r.configured_attributes[0].name == "eppn");
  CHECK(r.configured_attributes[0].value == "alice@example.org");
  CHECK(r.configured_attributes[1].name == "Shib-Session-ID");  // set: its value, not the default
  CHECK(r.configured_attributes[1].value == "_abc");
  CHECK(r.configured_attributes[2].name == "entitlement");  // unset, with a default
  CHECK(r.configured_attributes[2].value == "none");
  // Nothing else was read from the environment, and the built-in attributes are untouched.
  CHECK(env.asked == std::vector<std::string>{"eppn", "affiliation", "Shib-Session-ID", "entitlement"});
  CHECK(r.request_attributes.size() == 2);
}

TEST_CASE("request env: indicators replace what is forwarded, only when their variable is set", "[request][env]") {
  Env env;
  env.vars = {{"X_HTTPS", "On"},
              {"X_ADDR", "203.0.113.7"},
              {"X_PORT", "51234"},
              {"X_HOST", "client.example"},
              {"X_USER", "bob"},
              {"X_AUTH", "SAML"},
              {"X_NAME", "www.example"},
              {"X_LADDR", "192.0.2.1"},
              {"X_LPORT", "443"},
              {"X_PROTO", "TLSv1.3"},
              {"X_CIPHER", "TLS_AES_128_GCM_SHA256"},
              {"X_SESS", "beef"},
              {"X_BITS", "128"},
              {"X_CERT", "-----BEGIN CERTIFICATE-----"}};
  std::vector<EnvIndicator> indicators;
  const char* vars[] = {"X_HTTPS", "X_ADDR",  "X_PORT",  "X_HOST",   "X_USER", "X_AUTH", "X_NAME",
                        "X_LADDR", "X_LPORT", "X_PROTO", "X_CIPHER", "X_SESS", "X_BITS", "X_CERT"};
  for (std::size_t i = request::kEnvFieldCount; i-- > 0;) {  // https last in the list: still applied first
    indicators.push_back({static_cast<EnvField>(i), vars[i]});
  }
  ajp::ForwardRequest r = plain_request();
  request::apply_env(indicators, {}, env.lookup(), r);
  CHECK(r.is_ssl);
  CHECK(r.remote_addr == "203.0.113.7");
  CHECK(r.remote_host == std::optional<std::string_view>("client.example"));
  CHECK(r.remote_user == std::optional<std::string_view>("bob"));
  CHECK(r.auth_type == std::optional<std::string_view>("SAML"));
  CHECK(r.server_name == "www.example");
  CHECK(r.server_port == 443);
  CHECK(r.ssl_cipher == std::optional<std::string_view>("TLS_AES_128_GCM_SHA256"));
  CHECK(r.ssl_session == std::optional<std::string_view>("beef"));
  CHECK(r.ssl_key_size == std::optional<std::uint16_t>(128));
  CHECK(r.ssl_cert == std::optional<std::string_view>("-----BEGIN CERTIFICATE-----"));
  REQUIRE(r.request_attributes.size() == 3);
  CHECK(r.request_attributes[0].value == "51234");      // AJP_REMOTE_PORT replaced
  CHECK(r.request_attributes[1].value == "192.0.2.1");  // AJP_LOCAL_ADDR replaced
  CHECK(r.request_attributes[2].name == "AJP_SSL_PROTOCOL");
  CHECK(r.request_attributes[2].value == "TLSv1.3");
  CHECK(r.configured_attributes.empty());

  SECTION("unset variables change nothing") {
    Env empty;
    ajp::ForwardRequest same = plain_request();
    request::apply_env(indicators, {}, empty.lookup(), same);
    CHECK_FALSE(same.is_ssl);
    CHECK(same.remote_addr == "127.0.0.1");
    CHECK(same.server_port == 80);
    CHECK(same.request_attributes.size() == 2);
  }
}

TEST_CASE("request env: https off, SSL fields and bad numbers are left alone", "[request][env]") {
  Env env;
  env.vars = {{"X_HTTPS", "off"}, {"X_CIPHER", "NULL"}, {"X_PORT", "http"}, {"X_LPORT", "70000"}};
  const std::vector<EnvIndicator> indicators = {{EnvField::SslCipher, "X_CIPHER"},
                                                {EnvField::Https, "X_HTTPS"},
                                                {EnvField::RemotePort, "X_PORT"},
                                                {EnvField::LocalPort, "X_LPORT"}};
  ajp::ForwardRequest r = plain_request();
  r.is_ssl = true;  // the connection is TLS, the indicator says it is not (TLS ends elsewhere)
  request::apply_env(indicators, {}, env.lookup(), r);
  CHECK_FALSE(r.is_ssl);
  CHECK_FALSE(r.ssl_cipher.has_value());  // SSL fields only for a TLS request
  CHECK(r.request_attributes[0].value == "40000");
  CHECK(r.server_port == 80);
}

TEST_CASE("request env: field names", "[request][env]") {
  for (std::size_t i = 0; i < request::kEnvFieldCount; ++i) {
    const auto field = static_cast<EnvField>(i);
    CHECK(request::parse_env_field(request::to_string(field)) == field);
  }
  CHECK(request::parse_env_field("SSL_Cipher") == EnvField::SslCipher);
  CHECK_FALSE(request::parse_env_field("cipher").has_value());
  CHECK(request::is_valid_env_name("Shib-Identity-Provider"));
  CHECK(request::is_valid_env_name("a.b:c_d"));
  CHECK_FALSE(request::is_valid_env_name(""));
  CHECK_FALSE(request::is_valid_env_name("a b"));
  CHECK_FALSE(request::is_valid_env_name(std::string(256, 'a')));
}

TEST_CASE("request env: strip_path_parameter removes the session parameter from every segment", "[request][env]") {
  using request::strip_path_parameter;
  CHECK(strip_path_parameter("/static/a.css;jsessionid=ABC.n1", "jsessionid") == "/static/a.css");
  CHECK(strip_path_parameter("/a;jsessionid=X/b.css;JSESSIONID=Y", "jsessionid") == "/a/b.css");
  CHECK(strip_path_parameter("/a;v=1;jsessionid=X;w=2/b", "jsessionid") == "/a;v=1;w=2/b");
  CHECK(strip_path_parameter("/a;jsessionid", "jsessionid") == "/a");
  CHECK_FALSE(strip_path_parameter("/a;jsessionidx=1", "jsessionid").has_value());
  CHECK_FALSE(strip_path_parameter("/a;v=1/b", "jsessionid").has_value());
  CHECK_FALSE(strip_path_parameter("/plain", "jsessionid").has_value());
  CHECK(strip_path_parameter("/x;sid=1", "sid") == "/x");
}

// idmbalance-migrate: converts a mod_jk setup (httpd config, workers.properties,
// uriworkermap.properties) to mod_idmbalance's config. The conversion is the core's
// (idmb/migrate.h); this is argument parsing and file I/O only.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "idmb/migrate.h"
#include "idmb/version.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitInput = 1;
constexpr int kExitUsage = 2;

constexpr const char* kUsage =
    "usage: idmbalance-migrate [--server-root DIR] [--workers FILE] [--uriworkermap FILE] HTTPD_CONF...\n"
    "Writes HTTPD_CONF with every mod_jk directive replaced by mod_idmbalance's to standard output;\n"
    "warnings go to standard error as FILE:LINE: warning: ... (man idmbalance-migrate).\n";

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return text.str();
}

std::optional<std::string> get_env(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

int usage(const std::string& problem) {
  std::cerr << "idmbalance-migrate: " << problem << "\n" << kUsage;
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  idmb::migrate::Options options;
  options.read = read_file;
  options.env = get_env;
  std::vector<std::string> files;
  const std::vector<std::string> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool takes_value = a == "--server-root" || a == "--workers" || a == "--uriworkermap";
    if (takes_value && i + 1 >= args.size()) return usage(a + " needs a value");
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return kExitOk;
    } else if (a == "--version") {
      std::cout << "idmbalance-migrate " << idmb::version() << "\n";
      return kExitOk;
    } else if (a == "--server-root") {
      options.server_root = args[++i];
      options.server_root_given = true;
    } else if (a == "--workers") {
      options.workers_file = args[++i];
    } else if (a == "--uriworkermap") {
      options.uriworkermap_file = args[++i];
    } else if (a == "--") {
      files.insert(files.end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    } else if (!a.empty() && a[0] == '-') {
      return usage("unknown option " + a);
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) return usage("no httpd config file given");
  auto result = idmb::migrate::convert(files, options);
  if (!result) {
    std::cerr << result.error() << "\n";
    return kExitInput;
  }
  for (const auto& w : result->warnings) std::cerr << idmb::migrate::format_warning(w) << "\n";
  std::cout << result->output;
  std::cout.flush();
  return std::cout ? kExitOk : kExitInput;
}

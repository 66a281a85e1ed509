// The module's directives, once: name, where each may appear, how its arguments are split,
// its help text and the function that applies it to the config model. httpd's command table
// (the shim), the fuzz target and config readers such as the mod_jk converter all iterate
// this one table, so they cannot disagree about which directives exist.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "idmb/config.h"
#include "idmb/expected.h"

namespace idmb::config {

class ServerConfig;
struct LocationMount;

using Args = std::vector<std::string_view>;

// Where a directive may appear.
enum class Where {
  Section,     // "<IdmBalancer NAME>" itself, which opens a section: server config or <VirtualHost>
  Balancer,    // inside an <IdmBalancer> section
  Server,      // server config or <VirtualHost>, outside a section
  MainServer,  // the main server config only
};

// How the text after the name becomes arguments. Raw: split_directive_args, any number, the
// directive checks the count itself; One, Two: exactly that many (httpd's TAKE1 and TAKE2,
// which refuse another count with "NAME takes one argument, HELP").
enum class Arity { Raw, One, Two };

// `name` is the directive's name as the table spells it, for the messages.
using BalancerApply = Status (*)(BalancerConfig& balancer, std::string_view name, const Args& args);
using ServerApply = Status (*)(ServerConfig& server, std::string_view name, const Args& args);
using LocationApply = Status (*)(LocationMount& location, std::string_view name, const Args& args);

struct Directive {
  // Views of string literals, so name.data() and help.data() are C strings as well.
  std::string_view name;  // "IdmMember"; the section opener is "<IdmBalancer"
  Where where;
  Arity arity;
  std::string_view help;                      // the usage, then what it does: httpd shows it in errors and -L
  BalancerApply apply_to_balancer = nullptr;  // set for Where::Balancer
  ServerApply apply_to_server = nullptr;      // set for Where::Server and Where::MainServer
  // Where::Section has neither: ServerConfig::open_section and close_section handle it.
  // Set for a Where::Server directive that may also appear inside <Location> and
  // <LocationMatch>, with one argument there (IdmMount BALANCER): httpd passes it one or two
  // (TAKE12), and `arity` is the count outside a location section.
  LocationApply apply_in_location = nullptr;
};

inline constexpr std::size_t kDirectiveCount = 27;

// Every directive, in the order httpd lists them (`apache2 -L`).
std::span<const Directive, kDirectiveCount> directives();

// The directive called `name`, case-insensitive as httpd matches them; nullptr if none.
const Directive* find_directive(std::string_view name);

// Splits the arguments of a directive line as httpd does (ap_getword_conf): words separated by
// whitespace; a word starting with " or ' runs to the same quote (or the end of the line), and
// inside it \\ and \<that quote> stand for the character after the backslash; outside quotes
// \\ stands for \. A NUL ends the line (httpd's lines are C strings). Splitting stops at the
// first empty word, so an empty quoted word ("") ends the arguments, as it always has.
std::vector<std::string> split_directive_args(std::string_view line);

}  // namespace idmb::config

// The core's log seam: a level and a finished message. The shim maps it to httpd's error log
// (ap_log_rerror with the request, so LogLevel idmbalance:... applies); tests record it.
#pragma once

#include <string_view>

namespace idmb::log {

enum class Level { Error, Warning, Info, Debug, Trace1 };

class Sink {
 public:
  virtual ~Sink() = default;
  // Messages are built only when the level is on.
  virtual bool enabled(Level level) const = 0;
  virtual void write(Level level, std::string_view message) = 0;
};

}  // namespace idmb::log

// The shim's log calls: httpd's ap_log_rerror/ap_log_error with the format checked against
// APR's formatter at compile time (idmb/log_format.h). The file using them must declare
// APLOG_USE_MODULE(idmbalance), as for httpd's own macros.
#pragma once

#include "http_log.h"
#include "idmb/log_format.h"

#define IDMB_CHECK_APR_FORMAT(format) \
  static_assert(::idmb::is_apr_format(format), "APR formats have no %z, %j, %t or %L: use APR_SIZE_T_FMT etc.")

#define IDMB_LOG_R(level, r, format, ...)                                      \
  do {                                                                         \
    IDMB_CHECK_APR_FORMAT(format);                                             \
    ap_log_rerror(APLOG_MARK, level, 0, r, format __VA_OPT__(, ) __VA_ARGS__); \
  } while (0)

#define IDMB_LOG_S(level, s, format, ...)                                     \
  do {                                                                        \
    IDMB_CHECK_APR_FORMAT(format);                                            \
    ap_log_error(APLOG_MARK, level, 0, s, format __VA_OPT__(, ) __VA_ARGS__); \
  } while (0)

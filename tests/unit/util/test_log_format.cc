// The compile-time check on the shim's log formats: APR's formatter has no z, j, t or L.
#include <catch2/catch.hpp>

#include "idmb/log_format.h"

static_assert(
    idmb::is_apr_format("member %s (%s): %d, %u ms, %ld, %"
                        "lu"
                        ", 100%%"));
static_assert(!idmb::is_apr_format("no usable member (%zu tried)"));

TEST_CASE("APR log formats: printf-only length modifiers are refused", "[log]") {
  CHECK(idmb::is_apr_format("plain text"));
  CHECK(idmb::is_apr_format("%s %d %5.2f %-10s %x %pI %%"));
  CHECK(idmb::is_apr_format("trailing %"));
  for (const char* bad : {"%zu", "%zd", "%jd", "%td", "%Lf", "%5zu", "%-08zx", "ok %s then %zu"}) {
    CAPTURE(bad);
    CHECK_FALSE(idmb::is_apr_format(bad));
  }
}

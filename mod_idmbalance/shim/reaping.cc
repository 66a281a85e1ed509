// Crash reaping's glue. Each child claims a process record at child_init and gives its
// balancers the record's holds. The parent learns of every child exit from the MPM's
// child_status hook (prefork, worker and event all run it right after waitpid, before a new
// child can reuse the pid) and gives back what the dead child held. The lease-holding prober
// also sweeps records whose pid is gone, for an MPM that does not run the hook.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "httpd.h"
#include "http_log.h"

#include "runtime.h"
#include "shim_log.h"

APLOG_USE_MODULE(idmbalance);

namespace idmb::shim {
namespace {

void log_reaped(Runtime& runtime, server_rec* s, const table::Reaped& reaped, const char* how) {
  if (reaped.released.empty()) {
    return;  // a child that exited cleanly held nothing
  }
  std::string members;
  for (const auto& r : reaped.released) {
    const table::MemberSlot& slot = runtime.table->slot(r.member);
    members += (members.empty() ? "" : ", ") + std::string(slot.balancer, ::strnlen(slot.balancer, table::kNameSize)) +
               "/" + std::string(slot.member, ::strnlen(slot.member, table::kNameSize)) + " " + std::to_string(r.count);
  }
  IDMB_LOG_S(APLOG_WARNING, s, "child %u %s with %d requests in flight; released: %s", reaped.pid, how,
             static_cast<int>(reaped.total()), members.c_str());
}

}  // namespace

void claim_process_record(Runtime& runtime, server_rec* s) {
  if (!runtime.table) {
    return;
  }
  const int record = runtime.table->claim_process(static_cast<std::uint32_t>(::getpid()));
  if (record < 0) {
    IDMB_LOG_S(APLOG_WARNING, s,
               "no free process record in the worker table: requests of child %d cannot be released if it dies",
               static_cast<int>(::getpid()));
    return;
  }
  for (auto& b : runtime.balancers) {
    std::vector<std::atomic<std::int32_t>*> holds;
    for (auto& m : b.members) {
      holds.push_back(&runtime.table->held(record, m.table_index));
    }
    b.balancer->use_holds(std::move(holds));
  }
}

void reap_child(Runtime& runtime, server_rec* s, pid_t pid) {
  if (!runtime.table || pid <= 0) {
    return;
  }
  if (auto reaped = runtime.table->reap_process(static_cast<std::uint32_t>(pid))) {
    log_reaped(runtime, s, *reaped, "exited");
  }
}

void sweep_dead_children(Runtime& runtime, server_rec* s) {
  if (!runtime.table) {
    return;
  }
  // ESRCH only: EPERM means the pid exists (another user's process after pid reuse).
  auto alive = [](std::uint32_t pid) { return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH; };
  for (const auto& reaped : runtime.table->reap_dead(alive)) {
    log_reaped(runtime, s, reaped, "is gone");
  }
}

}  // namespace idmb::shim

#include "proc_seed.h"

#include <bsm/libbsm.h>
#include <libproc.h>
#include <mach/mach.h>

#include <algorithm>
#include <utility>

namespace keysentry {
namespace {

// The process list can grow between sizing the buffer and filling it: room for this many
// newcomers, and a few retries when even that is not enough.
constexpr int kSpareSlots = 64;
constexpr int kListAttempts = 4;

std::vector<pid_t> listPids() {
  int expected = proc_listallpids(nullptr, 0);
  for (int attempt = 0; attempt < kListAttempts && expected >= 0; attempt++) {
    std::vector<pid_t> pids(static_cast<size_t>(expected) + kSpareSlots);
    const int got = proc_listallpids(pids.data(), static_cast<int>(pids.size() * sizeof(pid_t)));
    if (got < 0) break;
    // A full buffer may have cut the list short: size again and retry.
    if (static_cast<size_t>(got) < pids.size()) {
      pids.resize(static_cast<size_t>(got));
      return pids;
    }
    expected = got * 2;
  }
  return {};
}

// The audit token names the execution (pid, pidversion) that ES events refer to; reading
// another task's token needs root, so without it pidversion stays unknown.
int32_t pidversionOf(pid_t pid) {
  mach_port_name_t task = MACH_PORT_NULL;
  if (task_name_for_pid(mach_task_self(), pid, &task) != KERN_SUCCESS) return -1;
  audit_token_t token;
  mach_msg_type_number_t count = TASK_AUDIT_TOKEN_COUNT;
  const kern_return_t kr = task_info(task, TASK_AUDIT_TOKEN, reinterpret_cast<task_info_t>(&token), &count);
  mach_port_deallocate(mach_task_self(), task);
  if (kr != KERN_SUCCESS || audit_token_to_pid(token) != pid) return -1;
  return audit_token_to_pidversion(token);
}

}  // namespace

std::vector<RunningProcess> listRunningProcesses(size_t limit) {
  std::vector<RunningProcess> out;
  const std::vector<pid_t> pids = listPids();
  out.reserve(std::min(limit, pids.size()));
  char path[PROC_PIDPATHINFO_MAXSIZE];
  for (pid_t pid : pids) {
    if (out.size() >= limit) break;
    if (pid <= 0) continue;  // the kernel task has no BSD process to seed
    struct proc_bsdinfo info;
    constexpr int kInfoSize = static_cast<int>(sizeof(info));
    if (proc_pidinfo(pid, PROC_PIDTBSDINFO, 0, &info, kInfoSize) != kInfoSize) continue;
    RunningProcess p;
    p.pid = pid;
    p.ppid = static_cast<int32_t>(info.pbi_ppid);
    p.uid = static_cast<int32_t>(info.pbi_ruid);
    p.gid = static_cast<int32_t>(info.pbi_rgid);
    p.start_time_ns = info.pbi_start_tvsec * 1000000000ull + info.pbi_start_tvusec * 1000ull;
    const int length = proc_pidpath(pid, path, static_cast<uint32_t>(sizeof(path)));
    if (length > 0) p.executable.assign(path, static_cast<size_t>(length));
    p.pidversion = pidversionOf(pid);
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace keysentry

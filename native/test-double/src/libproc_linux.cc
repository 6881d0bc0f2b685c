// Linux implementation of the double's libproc and Mach task calls over /proc, for the tests
// only: the start-up scan then runs against real processes.
#include <dirent.h>
#include <signal.h>
#include <errno.h>
#include <libproc.h>
#include <mach/mach.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "es_double.h"

namespace {

int g_pid_shortfall = 0;

std::vector<int> procPids() {
  std::vector<int> pids;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return pids;
  while (struct dirent* e = readdir(dir)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (end != e->d_name && *end == '\0' && pid > 0) pids.push_back(static_cast<int>(pid));
  }
  closedir(dir);
  return pids;
}

struct ProcStat {
  int ppid = 0;
  int pgid = 0;
  unsigned long long start_ticks = 0;
  unsigned ids[2][4] = {};  // Uid:, Gid: lines of /proc/<pid>/status: real, effective, saved, fs
  std::string comm;
};

bool readProcStat(int pid, ProcStat& out) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  // comm is parenthesised and may itself contain ") ": the fields start after the LAST one.
  const size_t open = line.find('(');
  const size_t close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return false;
  out.comm = line.substr(open + 1, close - open - 1);
  std::istringstream fields(line.substr(close + 2));
  std::string state;
  fields >> state >> out.ppid >> out.pgid;
  for (int skip = 0; skip < 16; skip++) fields >> line;  // session .. itrealvalue
  fields >> out.start_ticks;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string l; std::getline(status, l);) {
    const int row = l.rfind("Uid:", 0) == 0 ? 0 : l.rfind("Gid:", 0) == 0 ? 1 : -1;
    if (row < 0) continue;
    std::istringstream ids(l.substr(4));
    for (unsigned& id : out.ids[row]) ids >> id;
  }
  return static_cast<bool>(fields);
}

unsigned long long bootTimeSec() {
  std::ifstream stat("/proc/stat");
  for (std::string l; std::getline(stat, l);) {
    if (l.rfind("btime ", 0) == 0) return std::strtoull(l.c_str() + 6, nullptr, 10);
  }
  return 0;
}

// A task port of the double names a pid; mach_task_self() is this process.
constexpr mach_port_t kSelfPort = 0x7fffffff;

}  // namespace

namespace es_double {
void setPidCountShortfall(int missing) { g_pid_shortfall = missing; }
}  // namespace es_double

extern "C" {

mach_port_t mach_task_self_ = kSelfPort;

int proc_listpids(uint32_t type, uint32_t, void* buffer, int buffersize) {
  if (type != PROC_ALL_PIDS) {
    errno = EINVAL;
    return -1;
  }
  const std::vector<int> pids = procPids();
  if (buffer == nullptr) return static_cast<int>(pids.size() * sizeof(int));
  const size_t fit = std::min(pids.size(), static_cast<size_t>(buffersize) / sizeof(int));
  std::memcpy(buffer, pids.data(), fit * sizeof(int));
  return static_cast<int>(fit * sizeof(int));
}

int proc_listallpids(void* buffer, int buffersize) {
  const int bytes = proc_listpids(PROC_ALL_PIDS, 0, buffer, buffersize);
  if (bytes < 0) return -1;
  const int count = bytes / static_cast<int>(sizeof(int));
  return buffer == nullptr ? std::max(0, count - g_pid_shortfall) : count;
}

int proc_pidinfo(int pid, int flavor, uint64_t, void* buffer, int buffersize) {
  if (flavor != PROC_PIDTBSDINFO || buffersize < static_cast<int>(sizeof(struct proc_bsdinfo))) {
    errno = EINVAL;
    return 0;
  }
  ProcStat st;
  if (!readProcStat(pid, st)) {
    errno = ESRCH;
    return 0;
  }
  struct proc_bsdinfo info;
  std::memset(&info, 0, sizeof(info));
  info.pbi_pid = static_cast<uint32_t>(pid);
  info.pbi_ppid = static_cast<uint32_t>(st.ppid);
  info.pbi_pgid = static_cast<uint32_t>(st.pgid);
  info.pbi_ruid = st.ids[0][0];
  info.pbi_uid = st.ids[0][1];
  info.pbi_rgid = st.ids[1][0];
  info.pbi_gid = st.ids[1][1];
  std::strncpy(info.pbi_comm, st.comm.c_str(), MAXCOMLEN - 1);
  const long hz = sysconf(_SC_CLK_TCK);
  info.pbi_start_tvsec = bootTimeSec() + st.start_ticks / static_cast<unsigned long long>(hz);
  info.pbi_start_tvusec = (st.start_ticks % static_cast<unsigned long long>(hz)) * 1000000ull / hz;
  std::memcpy(buffer, &info, sizeof(info));
  return static_cast<int>(sizeof(info));
}

int proc_pidpath(int pid, void* buffer, uint32_t buffersize) {
  const std::string link = "/proc/" + std::to_string(pid) + "/exe";
  const ssize_t n = readlink(link.c_str(), static_cast<char*>(buffer), buffersize > 0 ? buffersize - 1 : 0);
  if (n <= 0) return 0;
  static_cast<char*>(buffer)[n] = '\0';
  return static_cast<int>(n);
}

int proc_pidpath_audittoken(audit_token_t* token, void* buffer, uint32_t buffersize) {
  return proc_pidpath(static_cast<int>(token->val[5]), buffer, buffersize);
}

kern_return_t task_name_for_pid(mach_port_name_t, int pid, mach_port_name_t* tn) {
  if (kill(pid, 0) != 0 && errno == ESRCH) return KERN_FAILURE;
  *tn = static_cast<mach_port_name_t>(pid);
  return KERN_SUCCESS;
}

// The double's pidversion is the process's start time in clock ticks: like Apple's, it
// tells two executions of one pid apart.
kern_return_t task_info(task_name_t task, task_flavor_t flavor, task_info_t out, mach_msg_type_number_t* count) {
  if (flavor != TASK_AUDIT_TOKEN || *count < TASK_AUDIT_TOKEN_COUNT) return KERN_FAILURE;
  const int pid = task == kSelfPort ? static_cast<int>(getpid()) : static_cast<int>(task);
  ProcStat st;
  if (!readProcStat(pid, st)) return KERN_FAILURE;
  audit_token_t token;
  const unsigned values[8] = {st.ids[0][0], st.ids[0][1], st.ids[1][1], st.ids[0][0], st.ids[1][0],
                              static_cast<unsigned>(pid), 0, static_cast<unsigned>(st.start_ticks & 0x7fffffff)};
  std::memcpy(token.val, values, sizeof(values));
  std::memcpy(out, &token, sizeof(token));
  *count = TASK_AUDIT_TOKEN_COUNT;
  return KERN_SUCCESS;
}

kern_return_t mach_port_deallocate(ipc_space_t, mach_port_name_t) { return KERN_SUCCESS; }

}  // extern "C"

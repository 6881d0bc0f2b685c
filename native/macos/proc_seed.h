// Start-up scan of the running processes, so that an exec by a process older than the agent
// still finds its parent in the process table. Same shape as the Linux /proc scan
// (native/linux), and as src/model/records.ts SeedRecord on the JavaScript side.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace keysentry {

struct RunningProcess {
  int32_t pid = -1;
  int32_t pidversion = -1;  // -1: not readable (needs root)
  int32_t ppid = -1;
  int32_t uid = -1;
  int32_t gid = -1;
  std::string executable;   // empty: not readable (exited mid-scan, or no permission)
  uint64_t start_time_ns = 0;
};

// At most `limit` processes; one that exits during the scan is skipped, not an error.
std::vector<RunningProcess> listRunningProcesses(size_t limit);

}  // namespace keysentry

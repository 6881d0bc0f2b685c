// Names the calling thread (15 characters at most), so per-thread CPU figures
// (/proc/<pid>/task/*/comm, top -H, perf) tell the capture threads apart.
#pragma once

#include <pthread.h>

namespace keysentry {

inline void nameThisThread(const char* name) {
#if defined(__APPLE__) && !defined(__GLIBC__)  // scripts/check-macos.sh compiles against glibc's headers
  pthread_setname_np(name);
#else
  pthread_setname_np(pthread_self(), name);
#endif
}

}  // namespace keysentry

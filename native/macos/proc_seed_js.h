// seedProcesses(limit?) for JavaScript: the start-up scan as plain objects
// { pid, pidversion, ppid, uid, gid, executable, startTimeNs } (-1 / "" = unknown), which
// src/sources/mac-seed.ts turns into SeedRecords. The only N-API in native/macos.
#pragma once

#include <napi.h>

namespace keysentry {

Napi::Value seedProcessesJs(const Napi::CallbackInfo& info);

}  // namespace keysentry

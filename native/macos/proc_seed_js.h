// seedProcesses(limit?) for JavaScript: the start-up scan as plain objects
// { pid, pidversion, ppid, uid, gid, executable, startTimeNs } (-1 / "" = unknown), which
// src/sources/mac-live.ts turns into SeedRecords. Exported by seed_module.cc (keysentry_macos)
// and by the Linux test addon.
#pragma once

#include <napi.h>

namespace keysentry {

Napi::Value seedProcessesJs(const Napi::CallbackInfo& info);

}  // namespace keysentry

// keysentry_macos.node: the macOS start-up scan for JavaScript (src/sources/mac-live.ts).
// A module of its own, so the scan works whether or not EndpointSecurity can start.
#include <napi.h>

#include "proc_seed_js.h"

static Napi::Object initModule(Napi::Env env, Napi::Object exports) {
  exports.Set("seedProcesses", Napi::Function::New(env, keysentry::seedProcessesJs));
  return exports;
}

NODE_API_MODULE(keysentry_macos, initModule)

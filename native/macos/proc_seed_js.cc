#include "proc_seed_js.h"

#include "proc_seed.h"

namespace keysentry {

// More than any real Mac runs (kern.maxproc is a few thousand); the scan stops there.
constexpr uint32_t kDefaultSeedLimit = 65536;

Napi::Value seedProcessesJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t limit = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : kDefaultSeedLimit;
  const std::vector<RunningProcess> processes = listRunningProcesses(limit);
  Napi::Array out = Napi::Array::New(env, processes.size());
  for (size_t i = 0; i < processes.size(); i++) {
    const RunningProcess& p = processes[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("pid", p.pid);
    o.Set("pidversion", p.pidversion);
    o.Set("ppid", p.ppid);
    o.Set("uid", p.uid);
    o.Set("gid", p.gid);
    o.Set("executable", p.executable);
    o.Set("startTimeNs", Napi::BigInt::New(env, p.start_time_ns));
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

}  // namespace keysentry

// N-API glue: `new NativeSource(options, onDelivery)` with start(), stop(), stats(),
// setUrgentText(). onDelivery(batch: Buffer) receives packed batches (batch.h); in the
// per-event baseline mode it receives one C++-built object per record instead.
#include <napi.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backend.h"
#include "batch.h"
#include "diagnostics.h"
#include "session.h"
#include "synthetic.h"
#include "urgent_text.h"

namespace keysentry {
namespace {

struct Run;

// One delivery on its way to the JavaScript thread.
struct DeliveryItem {
  std::vector<uint8_t> batch;
  uint32_t records = 0;
  std::unique_ptr<ProcessRecord> single;  // per-event mode
};

void callJs(Napi::Env env, Napi::Function callback, std::shared_ptr<Run>* context, DeliveryItem* item);
using Tsfn = Napi::TypedThreadSafeFunction<std::shared_ptr<Run>, DeliveryItem, callJs>;

// Everything one start() creates. It outlives stop() until the thread-safe function is
// finalized, because deliveries queued before stop() still reach JavaScript afterwards.
struct Run final : Delivery {
  Tsfn tsfn;
  std::unique_ptr<CaptureSession> session;
  napi_env env = nullptr;
  bool hook_registered = false;
  bool stopped = false;
  std::mutex error_mu;
  std::string last_callback_error;

  bool deliverBatch(std::vector<uint8_t>&& batch, uint32_t records) override {
    auto item = new DeliveryItem{std::move(batch), records, nullptr};
    if (tsfn.NonBlockingCall(item) == napi_ok) return true;
    delete item;
    return false;
  }

  bool deliverRecord(const ProcessRecord& record) override {
    auto item = new DeliveryItem{{}, 1, std::make_unique<ProcessRecord>(record)};
    if (tsfn.NonBlockingCall(item) == napi_ok) return true;
    delete item;
    return false;
  }

  // On the JavaScript thread: from stop(), the object's finalizer, or environment teardown.
  void stop() {
    if (stopped) return;
    stopped = true;
    if (hook_registered) {
      napi_remove_env_cleanup_hook(env, onEnvCleanup, this);
      hook_registered = false;
    }
    session->stop();
    tsfn.Release();
  }

  // The process is exiting or a worker is torn down with capture running.
  static void onEnvCleanup(void* arg) {
    Run* run = static_cast<Run*>(arg);
    run->hook_registered = false;
    run->stop();
  }
};

Napi::Value toNumber(Napi::Env env, uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); }

Napi::Object refObject(Napi::Env env, const ProcessRef& ref) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("pid", ref.pid);
  if (ref.pidversion >= 0) o.Set("pidversion", ref.pidversion);
  return o;
}

// The per-event baseline builds what the batch decoder would have produced.
Napi::Object recordObject(Napi::Env env, const ProcessRecord& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("timeNs", Napi::BigInt::New(env, r.time_ns));
  if (r.seq != 0) o.Set("seq", toNumber(env, r.seq));
  Napi::Object image = refObject(env, r.subject);
  image.Set("executable", r.executable);
  switch (r.kind) {
    case RecordKind::Fork:
      o.Set("kind", "fork");
      o.Set("child", image);
      o.Set("parent", refObject(env, r.parent));
      return o;
    case RecordKind::Exit:
      o.Set("kind", "exit");
      o.Set("process", refObject(env, r.subject));
      o.Set("status", r.exit_status);
      return o;
    case RecordKind::Exec:
      break;
  }
  o.Set("kind", "exec");
  o.Set("process", image);
  Napi::Array args = Napi::Array::New(env, r.args.size());
  for (uint32_t i = 0; i < r.args.size(); ++i) args.Set(i, r.args[i]);
  o.Set("args", args);
  o.Set("argsComplete", r.args_complete);
  if (!r.paths_complete) o.Set("pathsComplete", false);
  if (r.has_cwd) o.Set("cwd", r.cwd);
  if (r.uid >= 0) o.Set("uid", r.uid);
  if (r.euid >= 0) o.Set("euid", r.euid);
  if (r.gid >= 0) o.Set("gid", r.gid);
  if (r.parent.pid >= 0) o.Set("parent", refObject(env, r.parent));
  if (!r.parent_executable.empty()) o.Set("parentExecutable", r.parent_executable);
  return o;
}

void callJs(Napi::Env env, Napi::Function callback, std::shared_ptr<Run>* context, DeliveryItem* item) {
  std::unique_ptr<DeliveryItem> owned(item);
  // env is null when Node empties the queue of a finalized function: context is gone then.
  if (env == nullptr || context == nullptr) return;
  Run& run = **context;
  bool reached = false;
  try {
    Napi::Value arg = owned->single ? Napi::Value(recordObject(env, *owned->single))
                                    : Napi::Value(Napi::Buffer<uint8_t>::Copy(env, owned->batch.data(), owned->batch.size()));
    reached = true;
    callback.Call({arg});
  } catch (const Napi::Error& e) {
    // A throwing consumer must not take capture down: count it, keep the message for stats().
    run.session->counters().callback_errors.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(run.error_mu);
    run.last_callback_error = e.Message();
  }
  run.session->deliveryDone(owned->records, reached);
}

size_t sizeOption(const Napi::Object& o, const char* key, size_t fallback, size_t min, size_t max) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("option ") + key + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= static_cast<double>(min) && d <= static_cast<double>(max))) {
    throw Napi::RangeError::New(o.Env(), std::string("option ") + key + " out of range [" + std::to_string(min) + ", " +
                                             std::to_string(max) + "]");
  }
  return static_cast<size_t>(d);
}

size_t micros(std::chrono::microseconds d) { return static_cast<size_t>(d.count()); }

// SessionOptions' defaults under the option names NativeSource takes, so JavaScript reports them without a copy.
Napi::Object sessionDefaults(Napi::Env env) {
  const SessionOptions defaults;
  Napi::Object o = Napi::Object::New(env);
  o.Set("queueRecords", Napi::Number::New(env, static_cast<double>(defaults.limits.max_records)));
  o.Set("queueBytes", Napi::Number::New(env, static_cast<double>(defaults.limits.max_bytes)));
  o.Set("batchRecords", Napi::Number::New(env, static_cast<double>(defaults.batch_records)));
  o.Set("flushMicros", Napi::Number::New(env, static_cast<double>(micros(defaults.flush_delay))));
  o.Set("quietFlushMicros", Napi::Number::New(env, static_cast<double>(micros(defaults.quiet_flush_delay))));
  o.Set("maxInFlight", Napi::Number::New(env, static_cast<double>(defaults.max_in_flight)));
  return o;
}

using Needles = std::optional<std::vector<std::string>>;

// Undefined or null: no needle set (every exec urgent). Otherwise an array of strings.
Needles needlesOf(Napi::Env env, Napi::Value v, const char* what) {
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  const std::string wrong = std::string(what) + " must be an array of strings, or null";
  if (!v.IsArray()) throw Napi::TypeError::New(env, wrong);
  Napi::Array array = v.As<Napi::Array>();
  std::vector<std::string> needles;
  needles.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value needle = array.Get(i);
    if (!needle.IsString()) throw Napi::TypeError::New(env, wrong);
    needles.push_back(needle.As<Napi::String>().Utf8Value());
  }
  return needles;
}

std::shared_ptr<const UrgentText> compileUrgentText(Napi::Env env, const Needles& needles) {
  if (!needles) return nullptr;
  try {
    return std::make_shared<const UrgentText>(*needles);
  } catch (const UrgentTextError& e) {
    throw Napi::RangeError::New(env, e.what());
  }
}

// A Buffer's bytes as they are (a record's strings need not be UTF-8), or a string's UTF-8.
std::string bytesOf(Napi::Value v) {
  if (v.IsBuffer()) {
    Napi::Buffer<char> b = v.As<Napi::Buffer<char>>();
    return std::string(b.Data(), b.Length());
  }
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}

// urgentTextMatches(needles, records): per record, whether the core finds it urgent. For the
// tests: the production matcher against a reference, without a capture session in between.
Napi::Value urgentTextMatches(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[1].IsArray()) throw Napi::TypeError::New(env, "urgentTextMatches(needles: string[], records: object[])");
  const std::shared_ptr<const UrgentText> text = compileUrgentText(env, needlesOf(env, info[0], "needles"));
  Napi::Array records = info[1].As<Napi::Array>();
  Napi::Array out = Napi::Array::New(env, records.Length());
  ProcessRecord r;
  for (uint32_t i = 0; i < records.Length(); ++i) {
    Napi::Value record = records.Get(i);
    if (!record.IsObject()) throw Napi::TypeError::New(env, "urgentTextMatches: each record must be an object");
    Napi::Object o = record.As<Napi::Object>();
    r.executable = bytesOf(o.Get("executable"));
    r.pre_exec_executable = bytesOf(o.Get("preExecExecutable"));
    r.parent_executable = bytesOf(o.Get("parentExecutable"));
    r.cwd = bytesOf(o.Get("cwd"));
    r.code_signature.signing_id = bytesOf(o.Get("signingId"));
    r.code_signature.team_id = bytesOf(o.Get("teamId"));
    r.args.clear();
    Napi::Value args = o.Get("args");
    if (args.IsArray()) {
      Napi::Array a = args.As<Napi::Array>();
      for (uint32_t j = 0; j < a.Length(); ++j) r.args.push_back(bytesOf(a.Get(j)));
    }
    out.Set(i, text == nullptr || text->matches(r));
  }
  return out;
}

class NativeSource : public Napi::ObjectWrap<NativeSource> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "NativeSource",
                       {InstanceMethod("start", &NativeSource::start), InstanceMethod("stop", &NativeSource::stop),
                        InstanceMethod("stats", &NativeSource::stats),
                        InstanceMethod("setUrgentText", &NativeSource::setUrgentText)});
  }

  explicit NativeSource(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeSource>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject() || !info[1].IsFunction()) {
      throw Napi::TypeError::New(env, "NativeSource(options: object, onDelivery: function)");
    }
    Napi::Object o = info[0].As<Napi::Object>();
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    Napi::Value backend = o.Get("backend");
    backend_options_.name = backend.IsString() ? backend.As<Napi::String>().Utf8Value() : "auto";
    backend_options_.self_pid = static_cast<int32_t>(sizeOption(o, "selfPid", 0, 0, INT32_MAX));
    // An absent option keeps SessionOptions' own default, the one sessionDefaults reports.
    session_options_.limits.max_records = sizeOption(o, "queueRecords", session_options_.limits.max_records, 16, 1u << 24);
    session_options_.limits.max_bytes = sizeOption(o, "queueBytes", session_options_.limits.max_bytes, 1u << 16, 1u << 30);
    session_options_.batch_records = sizeOption(o, "batchRecords", session_options_.batch_records, 1, 1u << 16);
    session_options_.flush_delay = std::chrono::microseconds(sizeOption(o, "flushMicros", micros(session_options_.flush_delay), 0, 1000000));
    session_options_.quiet_flush_delay =
        std::chrono::microseconds(sizeOption(o, "quietFlushMicros", micros(session_options_.quiet_flush_delay), 0, 1000000));
    urgent_needles_ = needlesOf(env, o.Get("urgentText"), "option urgentText");
    session_options_.max_in_flight = sizeOption(o, "maxInFlight", session_options_.max_in_flight, 1, 1u << 16);
    Napi::Value delivery = o.Get("delivery");
    session_options_.per_event = delivery.IsString() && delivery.As<Napi::String>().Utf8Value() == "per-event";
    synthetic_count_ = sizeOption(o, "syntheticCount", 1000000, 0, SIZE_MAX >> 12);
  }

  ~NativeSource() override {
    if (run_) run_->stop();
  }

 private:
  Napi::Value start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (run_ && !run_->stopped) throw Napi::Error::New(env, "NativeSource already started");
    const bool synthetic = backend_options_.name == "synthetic";
    std::unique_ptr<Backend> backend;
    try {
      backend = synthetic ? createSyntheticBackend(synthetic_count_) : createBackend(backend_options_);
    } catch (const BackendError& e) {
      throw backendError(env, e);
    }
    if (!backend) throw Napi::Error::New(env, "unknown backend '" + backend_options_.name + "'");
    SessionOptions options = session_options_;
    options.urgent_text = compileUrgentText(env, urgent_needles_);
    // The synthetic producer measures delivery, so it waits for room instead of dropping.
    options.limits.block_when_full = synthetic;

    auto run = std::make_shared<Run>();
    run->env = env;
    run->session = std::make_unique<CaptureSession>(std::move(backend), options, *run);
    run->tsfn = Tsfn::New(env, callback_.Value(), "keysentry-native", 0, 1, new std::shared_ptr<Run>(run),
                          [](Napi::Env, void*, std::shared_ptr<Run>* ctx) { delete ctx; });
    run->tsfn.Unref(env);  // capture alone never keeps the process alive
    napi_add_env_cleanup_hook(env, Run::onEnvCleanup, run.get());
    run->hook_registered = true;
    run_ = run;
    try {
      run->session->start();
    } catch (const std::exception& e) {
      run->stopped = true;
      napi_remove_env_cleanup_hook(env, Run::onEnvCleanup, run.get());
      run->hook_registered = false;
      run->tsfn.Release();
      const auto* backend_error = dynamic_cast<const BackendError*>(&e);
      if (backend_error != nullptr) throw backendError(env, *backend_error);
      throw Napi::Error::New(env, std::string("native source failed to start: ") + e.what());
    }
    return Napi::String::New(env, run->session->backendName());
  }

  Napi::Value stop(const Napi::CallbackInfo& info) {
    if (run_) run_->stop();
    return info.Env().Undefined();
  }

  // setUrgentText(needles | null): for the execs pushed after it returns, and later starts.
  // A set over the caps throws and changes nothing.
  Napi::Value setUrgentText(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Needles needles = needlesOf(env, info[0], "urgent text");
    std::shared_ptr<const UrgentText> compiled = compileUrgentText(env, needles);
    urgent_needles_ = std::move(needles);
    if (run_ && !run_->stopped) run_->session->setUrgentText(std::move(compiled));
    return env.Undefined();
  }

  Napi::Value stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    if (!run_) return o;
    const Counters& c = run_->session->counters();
    o.Set("backend", run_->session->backendName());
    o.Set("running", !run_->stopped);
    o.Set("captured", toNumber(env, c.captured.load()));
    o.Set("delivered", toNumber(env, c.delivered.load()));
    o.Set("dropped", toNumber(env, c.dropped.load()));
    o.Set("sourceLost", toNumber(env, c.source_lost.load()));
    o.Set("urgent", toNumber(env, c.urgent.load()));
    o.Set("batches", toNumber(env, c.batches.load()));
    o.Set("callbackErrors", toNumber(env, c.callback_errors.load()));
    o.Set("repairs", toNumber(env, c.repairs.load()));
    const CaptureHealth health = run_->session->health();
    if (!health.last_repair.empty()) o.Set("lastRepair", health.last_repair);
    if (!health.degraded.empty()) o.Set("degraded", health.degraded);
    std::lock_guard<std::mutex> lock(run_->error_mu);
    if (!run_->last_callback_error.empty()) o.Set("lastCallbackError", run_->last_callback_error);
    return o;
  }

  static Napi::Error backendError(Napi::Env env, const BackendError& e) {
    Napi::Error err = Napi::Error::New(env, e.what());
    err.Set("code", e.code());
    err.Set("name", "BackendError");
    return err;
  }

  Napi::FunctionReference callback_;
  BackendOptions backend_options_;
  SessionOptions session_options_;
  Needles urgent_needles_;
  uint64_t synthetic_count_ = 0;
  std::shared_ptr<Run> run_;
};

}  // namespace

Napi::Object init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeSource", NativeSource::define(env));
  exports.Set("batchVersion", Napi::Number::New(env, kBatchVersion));
  exports.Set("sessionDefaults", sessionDefaults(env));
  exports.Set("urgentTextMatches", Napi::Function::New(env, urgentTextMatches));
  exports.Set("diagnostics", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return Napi::String::New(info.Env(), platformDiagnostics());
              }));
  return exports;
}

}  // namespace keysentry

// The module macro pastes the name into an identifier, so it takes an unqualified one.
static Napi::Object initModule(Napi::Env env, Napi::Object exports) { return keysentry::init(env, exports); }
NODE_API_MODULE(keysentry_native, initModule)

// Test-only addon (Linux): builds real es_message_t values of the double's types from the
// specs a test derives from eslogger lines, runs them through the macOS translation
// (native/macos/es_translate.cc) and the core's batch encoder, and returns the batch for
// the JavaScript decoder. Also exposes the error messages and the start-up scan (over /proc).
//
// Guarded mode places each struct so that the first field newer than the message's version
// starts a PROT_NONE page: a translator that reads past its version faults, and the fault
// is reported as the struct and byte it touched instead of crashing the test run.
#include <napi.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../../core/batch.h"
#include "../../macos/es_errors.h"
#include "../../macos/es_translate.h"
#include "../../macos/proc_seed_js.h"
#include "es_double.h"

namespace {

using keysentry::ProcessRecord;

// Pages for one message; every struct of it lives here and dies with it.
class MessageMemory {
 public:
  ~MessageMemory() {
    for (const Region& r : regions_) munmap(r.base, r.length);
  }

  // `readable` bytes of `T`, then (when `guarded`) a PROT_NONE page; the rest of a guarded
  // object is unreachable. Unguarded objects get all of sizeof(T).
  template <typename T>
  T* place(size_t readable, bool guarded, const char* name) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    if (!guarded) readable = sizeof(T);
    const size_t length = 2 * page + (sizeof(T) / page) * page;
    void* base = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) throw std::runtime_error("mmap failed");
    char* guard = static_cast<char*>(base) + length - page;
    if (mprotect(guard, page, PROT_NONE) != 0) throw std::runtime_error("mprotect failed");
    char* object = guard - readable;
    std::memset(object, 0xA5, readable);  // what ES never wrote is garbage, not zero
    regions_.push_back(Region{base, length, object, guard, name});
    return reinterpret_cast<T*>(object);
  }

  // Bytes of a token, followed by a byte that is not NUL: a reader that relies on a
  // terminator reads garbage.
  es_string_token_t token(const std::string& s) {
    strings_.emplace_back(new char[s.size() + 1]);
    char* data = strings_.back().get();
    std::memcpy(data, s.data(), s.size());
    data[s.size()] = '#';
    return es_string_token_t{s.size(), data};
  }

  // A token whose bytes lie in a guard page: for fields newer than the message.
  es_string_token_t poisonedToken() {
    const Region& r = regions_.front();
    return es_string_token_t{1, static_cast<const char*>(r.guard)};
  }

  // "es_process_t byte 144" for a faulting address inside a guarded page.
  std::string describe(const void* address) const {
    for (const Region& r : regions_) {
      const char* a = static_cast<const char*>(address);
      const char* guard = static_cast<const char*>(r.guard);
      if (a >= guard && a < static_cast<const char*>(r.base) + r.length) {
        return std::string(r.name) + " byte " + std::to_string(a - static_cast<const char*>(r.object));
      }
    }
    return "an address outside the message";
  }

 private:
  struct Region {
    void* base;
    size_t length;
    void* object;
    void* guard;
    const char* name;
  };
  std::vector<Region> regions_;
  std::vector<std::unique_ptr<char[]>> strings_;
};

// Where the first field newer than `version` starts (sizeof when there is none we model).
size_t processReadable(uint32_t version) {
  if (version < 2) return offsetof(es_process_t, tty);
  if (version < 3) return offsetof(es_process_t, start_time);
  if (version < 4) return offsetof(es_process_t, responsible_audit_token);
  if (version < 10) return offsetof(es_process_t, cs_validation_category);
  return sizeof(es_process_t);
}

size_t messageReadable(uint32_t version, es_event_type_t type) {
  if (version >= 4) return sizeof(es_message_t);
  if (type != ES_EVENT_TYPE_NOTIFY_EXEC) return offsetof(es_message_t, thread);
  const size_t exec = offsetof(es_message_t, event) + offsetof(es_event_exec_t, script);
  if (version < 2) return exec;
  if (version < 3) return exec + offsetof(es_event_exec_t, cwd) - offsetof(es_event_exec_t, script);
  return exec + offsetof(es_event_exec_t, last_fd) - offsetof(es_event_exec_t, script);
}

uint32_t u32(const Napi::Object& o, const char* key) { return o.Get(key).As<Napi::Number>().Uint32Value(); }
int32_t i32(const Napi::Object& o, const char* key) { return o.Get(key).As<Napi::Number>().Int32Value(); }
int64_t i64(const Napi::Object& o, const char* key) { return o.Get(key).As<Napi::Number>().Int64Value(); }
bool flag(const Napi::Object& o, const char* key) { return o.Get(key).ToBoolean().Value(); }
bool present(const Napi::Object& o, const char* key) {
  return o.Has(key) && !o.Get(key).IsNull() && !o.Get(key).IsUndefined();
}

audit_token_t auditToken(const Napi::Value& v) {
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() != 8) throw Napi::TypeError::New(v.Env(), "audit token must have 8 integers");
  audit_token_t t;
  for (uint32_t i = 0; i < 8; i++) t.val[i] = a.Get(i).As<Napi::Number>().Uint32Value();
  return t;
}

class MessageBuilder {
 public:
  MessageBuilder(MessageMemory& memory, bool guarded) : memory_(memory), guarded_(guarded) {}

  es_message_t* build(const Napi::Object& spec) {
    version_ = u32(spec, "version");
    const auto type = static_cast<es_event_type_t>(u32(spec, "eventType"));
    es_message_t* m = memory_.place<es_message_t>(messageReadable(version_, type), guarded_, "es_message_t");
    m->version = version_;
    m->time.tv_sec = static_cast<time_t>(i64(spec, "timeSec"));
    m->time.tv_nsec = static_cast<long>(i64(spec, "timeNsec"));
    m->mach_time = static_cast<uint64_t>(i64(spec, "machTime"));
    m->deadline = 0;
    m->process = process(spec.Get("process").As<Napi::Object>(), "es_process_t (message process)");
    // seq_num lies mid-struct, so no guard can cover it: before v2 the spec's value stands for
    // whatever bytes happen to be there, and must not be read as a sequence.
    m->seq_num = static_cast<uint64_t>(i64(spec, "seqNum"));
    m->action_type = ES_ACTION_TYPE_NOTIFY;
    m->event_type = type;
    switch (type) {
      case ES_EVENT_TYPE_NOTIFY_EXEC:
        exec(spec.Get("exec").As<Napi::Object>(), m->event.exec);
        break;
      case ES_EVENT_TYPE_NOTIFY_FORK:
        m->event.fork.child = process(spec.Get("fork").As<Napi::Object>().Get("child").As<Napi::Object>(),
                                      "es_process_t (fork child)");
        break;
      case ES_EVENT_TYPE_NOTIFY_EXIT:
        m->event.exit.stat = i32(spec.Get("exit").As<Napi::Object>(), "stat");
        break;
      default:
        break;
    }
    if (version_ >= 4) {
      m->thread = nullptr;
      m->global_seq_num = static_cast<uint64_t>(i64(spec, "globalSeqNum"));
    }
    return m;
  }

  std::vector<const es_event_exec_t*> execs;

 private:
  es_file_t* file(const Napi::Value& v) {
    if (v.IsNull() || v.IsUndefined()) return nullptr;
    Napi::Object o = v.As<Napi::Object>();
    es_file_t* f = memory_.place<es_file_t>(sizeof(es_file_t), false, "es_file_t");
    f->path = memory_.token(o.Get("path").As<Napi::String>().Utf8Value());
    f->path_truncated = flag(o, "truncated");
    std::memset(&f->stat, 0, sizeof(f->stat));
    return f;
  }

  es_string_token_t optionalToken(const Napi::Object& o, const char* key) {
    if (!present(o, key)) return es_string_token_t{0, nullptr};
    return memory_.token(o.Get(key).As<Napi::String>().Utf8Value());
  }

  es_process_t* process(const Napi::Object& o, const char* name) {
    es_process_t* p = memory_.place<es_process_t>(processReadable(version_), guarded_, name);
    p->audit_token = auditToken(o.Get("auditToken"));
    p->ppid = i32(o, "ppid");
    p->original_ppid = i32(o, "originalPpid");
    p->group_id = i32(o, "groupId");
    p->session_id = i32(o, "sessionId");
    p->codesigning_flags = u32(o, "codesigningFlags");
    p->is_platform_binary = flag(o, "isPlatformBinary");
    p->is_es_client = flag(o, "isEsClient");
    std::memset(p->cdhash, 0, sizeof(p->cdhash));
    p->signing_id = optionalToken(o, "signingId");
    p->team_id = optionalToken(o, "teamId");
    p->executable = file(o.Get("executable"));
    if (version_ >= 2) p->tty = file(o.Get("tty"));
    if (version_ >= 3) p->start_time = timeval{0, 0};
    if (version_ >= 4) {
      p->responsible_audit_token = auditToken(o.Get("responsibleAuditToken"));
      p->parent_audit_token = auditToken(o.Get("parentAuditToken"));
    }
    if (version_ >= 10) p->cs_validation_category = ES_CS_VALIDATION_CATEGORY_NONE;
    return p;
  }

  void exec(const Napi::Object& o, es_event_exec_t& e) {
    e.target = process(o.Get("target").As<Napi::Object>(), "es_process_t (exec target)");
    e.dyld_exec_path = version_ >= 7 ? memory_.token(o.Get("dyldExecPath").As<Napi::String>().Utf8Value())
                                     : memory_.poisonedToken();
    if (version_ >= 2) e.script = file(o.Get("script"));
    if (version_ >= 3) e.cwd = file(o.Get("cwd"));
    if (version_ >= 4) e.last_fd = 0;
    if (version_ >= 6) {
      e.image_cputype = 0;
      e.image_cpusubtype = 0;
    }
    std::vector<es_string_token_t> args, env;
    Napi::Array a = o.Get("args").As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) args.push_back(memory_.token(a.Get(i).As<Napi::String>().Utf8Value()));
    Napi::Array v = o.Get("env").As<Napi::Array>();
    for (uint32_t i = 0; i < v.Length(); i++) env.push_back(memory_.token(v.Get(i).As<Napi::String>().Utf8Value()));
    es_double::setExecStrings(&e, std::move(args), std::move(env));
    execs.push_back(&e);
  }

  MessageMemory& memory_;
  const bool guarded_;
  uint32_t version_ = 1;
};

class CollectingSink final : public keysentry::RecordSink {
 public:
  void push(const ProcessRecord& record) override { writer.append(record); }
  void reportSourceLoss(uint64_t count) override { lost += count; }
  keysentry::BatchWriter writer;
  uint64_t lost = 0;
};

// The fault handler's way back into the call that faulted.
sigjmp_buf g_fault_jump;
const void* g_fault_address = nullptr;

void onFault(int, siginfo_t* info, void*) {
  g_fault_address = info->si_addr;
  siglongjmp(g_fault_jump, 1);
}

// Runs `body`; a read of a guard page becomes a description of what was read.
template <typename Body>
std::string catchingFaults(const MessageMemory& memory, Body body) {
  struct sigaction action, old_segv, old_bus;
  std::memset(&action, 0, sizeof(action));
  action.sa_sigaction = onFault;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  sigaction(SIGSEGV, &action, &old_segv);
  sigaction(SIGBUS, &action, &old_bus);
  std::string fault;
  if (sigsetjmp(g_fault_jump, 1) == 0) {
    body();
  } else {
    fault = memory.describe(g_fault_address);
  }
  sigaction(SIGSEGV, &old_segv, nullptr);
  sigaction(SIGBUS, &old_bus, nullptr);
  return fault;
}

// translate(specs, { guarded }) -> { batch: Buffer, lost: number }; throws when a guarded
// message was read past its version.
Napi::Value Translate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array specs = info[0].As<Napi::Array>();
  const bool guarded = info.Length() > 1 && info[1].IsObject() && flag(info[1].As<Napi::Object>(), "guarded");
  CollectingSink sink;
  keysentry::es::MessageTranslator translator(sink);
  for (uint32_t i = 0; i < specs.Length(); i++) {
    MessageMemory memory;
    MessageBuilder builder(memory, guarded);
    const es_message_t* message = builder.build(specs.Get(i).As<Napi::Object>());
    const std::string fault = catchingFaults(memory, [&] { translator.handle(*message); });
    for (const es_event_exec_t* e : builder.execs) es_double::clearExecStrings(e);
    if (!fault.empty()) {
      throw Napi::Error::New(env, "message " + std::to_string(i) + " (version " + std::to_string(message->version) +
                                      "): translation read " + fault + ", a field newer than the message");
    }
  }
  Napi::Object out = Napi::Object::New(env);
  std::vector<uint8_t> bytes = sink.writer.finish();
  out.Set("batch", Napi::Buffer<uint8_t>::Copy(env, bytes.data(), bytes.size()));
  out.Set("lost", Napi::Number::New(env, static_cast<double>(sink.lost)));
  return out;
}

// Proves the guard works: reads a v4 field of a guarded v3 process on purpose.
Napi::Value ProbeGuard(const Napi::CallbackInfo& info) {
  MessageMemory memory;
  MessageBuilder builder(memory, true);
  es_message_t* message = builder.build(info[0].As<Napi::Object>());
  volatile unsigned sink = 0;
  const std::string fault =
      catchingFaults(memory, [&] { sink = sink + message->process->parent_audit_token.val[5]; });
  for (const es_event_exec_t* e : builder.execs) es_double::clearExecStrings(e);
  return Napi::String::New(info.Env(), fault);
}

Napi::Value NewClientErrors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  const int results[] = {ES_NEW_CLIENT_RESULT_ERR_INVALID_ARGUMENT, ES_NEW_CLIENT_RESULT_ERR_INTERNAL,
                         ES_NEW_CLIENT_RESULT_ERR_NOT_ENTITLED,     ES_NEW_CLIENT_RESULT_ERR_NOT_PERMITTED,
                         ES_NEW_CLIENT_RESULT_ERR_NOT_PRIVILEGED,   ES_NEW_CLIENT_RESULT_ERR_TOO_MANY_CLIENTS,
                         42};
  for (int r : results) {
    const keysentry::BackendError e = keysentry::es::newClientError(static_cast<es_new_client_result_t>(r));
    Napi::Object o = Napi::Object::New(env);
    o.Set("result", r);
    o.Set("code", e.code());
    o.Set("message", e.what());
    out.Set(out.Length(), o);
  }
  return out;
}

// setPidCountShortfall(n): proc_listallpids(NULL, 0) under-reports by n from now on.
Napi::Value SetPidCountShortfall(const Napi::CallbackInfo& info) {
  es_double::setPidCountShortfall(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("translate", Napi::Function::New(env, Translate));
  exports.Set("probeGuard", Napi::Function::New(env, ProbeGuard));
  exports.Set("newClientErrors", Napi::Function::New(env, NewClientErrors));
  exports.Set("seedProcesses", Napi::Function::New(env, keysentry::seedProcessesJs));
  exports.Set("setPidCountShortfall", Napi::Function::New(env, SetPidCountShortfall));
  return exports;
}

}  // namespace

NODE_API_MODULE(keysentry_es_test, Init)

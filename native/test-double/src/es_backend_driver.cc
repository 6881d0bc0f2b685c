// Test-only program (Linux, clang -fblocks): drives the real EndpointSecurity backend
// (native/macos/es_backend.cc) against the fake ES subsystem of es_client_linux.cc and
// prints one "ok <check>" or "FAIL <check>: <why>" line per check.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../../core/backend.h"
#include "../../macos/es_errors.h"
#include "es_client_double.h"
#include "es_double.h"

using keysentry::Backend;
using keysentry::BackendError;
using keysentry::ProcessRecord;

namespace {

int g_failures = 0;

void check(bool ok, const std::string& name, const std::string& why = "") {
  if (ok) {
    std::printf("ok %s\n", name.c_str());
  } else {
    std::printf("FAIL %s: %s\n", name.c_str(), why.c_str());
    g_failures++;
  }
}

class Sink final : public keysentry::RecordSink {
 public:
  void push(const ProcessRecord& record) override {
    if (slow_) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) pushes_after_close_++;
    records_.push_back(record);
  }
  void reportSourceLoss(uint64_t count) override { lost_ += count; }

  void slow(bool on) { slow_ = on; }
  void close() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mutex_);
    return records_.size();
  }
  std::vector<ProcessRecord> records() {
    std::lock_guard<std::mutex> lock(mutex_);
    return records_;
  }
  int pushesAfterClose() {
    std::lock_guard<std::mutex> lock(mutex_);
    return pushes_after_close_;
  }
  uint64_t lost() const { return lost_; }

 private:
  std::mutex mutex_;
  std::vector<ProcessRecord> records_;
  bool closed_ = false;
  int pushes_after_close_ = 0;
  std::atomic<bool> slow_{false};
  std::atomic<uint64_t> lost_{0};
};

// One message with its structs, for as long as the test needs it.
struct Message {
  es_file_t image{};
  es_file_t cwd{};
  es_process_t process{};
  es_process_t target{};
  std::vector<es_string_token_t> args;
  std::string path;
  es_message_t message{};  // last: it ends in a flexible array

  Message(es_event_type_t type, int pid, uint64_t global_seq, const char* executable) : path(executable) {
    image.path = es_string_token_t{path.size(), path.data()};
    cwd.path = es_string_token_t{1, "/"};
    for (es_process_t* p : {&process, &target}) {
      p->audit_token.val[5] = static_cast<unsigned>(pid);
      p->executable = &image;
    }
    process.audit_token.val[7] = 1;
    target.audit_token.val[7] = 2;
    target.parent_audit_token.val[5] = 1;
    message.version = 4;
    message.process = &process;
    message.event_type = type;
    message.global_seq_num = global_seq;
    if (type == ES_EVENT_TYPE_NOTIFY_EXEC) {
      message.event.exec.target = &target;
      message.event.exec.cwd = &cwd;
      args.push_back(es_string_token_t{path.size(), path.data()});
      es_double::setExecStrings(&message.event.exec, args, {});
    } else if (type == ES_EVENT_TYPE_NOTIFY_FORK) {
      message.event.fork.child = &target;
    }
  }
  ~Message() {
    if (message.event_type == ES_EVENT_TYPE_NOTIFY_EXEC) es_double::clearExecStrings(&message.event.exec);
  }
};

std::unique_ptr<Backend> esBackend() {
  keysentry::BackendOptions options;
  options.name = "es";
  return keysentry::createBackend(options);
}

void lifecycle() {
  es_double::setClientAnswers({});
  auto backend = esBackend();
  check(backend != nullptr && std::strcmp(backend->name(), "es") == 0, "createBackend(es) gives the es backend");
  keysentry::BackendOptions other;
  other.name = "audit";
  check(keysentry::createBackend(other) == nullptr, "createBackend of another name gives none");

  Sink sink;
  std::thread::id starter, stopper;
  std::thread([&] {
    starter = std::this_thread::get_id();
    backend->start(sink);
  }).join();
  es_double::ClientLog log = es_double::clientLog();
  check(log.created, "start creates a client");
  check(log.subscribed == std::vector<es_event_type_t>{ES_EVENT_TYPE_NOTIFY_EXEC, ES_EVENT_TYPE_NOTIFY_FORK,
                                                       ES_EVENT_TYPE_NOTIFY_EXIT},
        "subscribes to NOTIFY_EXEC, NOTIFY_FORK, NOTIFY_EXIT");
  check(log.muted_pids == std::vector<pid_t>{getpid()}, "mutes its own process by audit token");

  Message exec(ES_EVENT_TYPE_NOTIFY_EXEC, 100, 10, "/usr/bin/security");
  Message fork(ES_EVENT_TYPE_NOTIFY_FORK, 101, 11, "/bin/zsh");
  Message exit(ES_EVENT_TYPE_NOTIFY_EXIT, 100, 14, "/usr/bin/security");
  for (Message* m : {&exec, &fork, &exit}) es_double::deliver(&m->message);
  es_double::drain();
  const std::vector<ProcessRecord> got = sink.records();
  check(got.size() == 3 && got[0].kind == keysentry::RecordKind::Exec && got[0].executable == "/usr/bin/security" &&
            got[1].kind == keysentry::RecordKind::Fork && got[2].kind == keysentry::RecordKind::Exit,
        "the handler hands exec, fork and exit to the sink", std::to_string(got.size()) + " records");
  check(sink.lost() == 2, "a global_seq_num gap is reported as source loss", std::to_string(sink.lost()));

  // A message in flight while stop() runs: stop waits for it, and nothing follows stop.
  sink.slow(true);
  es_double::deliver(&exec.message);
  es_double::deliver(&fork.message);
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::thread([&] {
    stopper = std::this_thread::get_id();
    backend->stop();
    sink.close();
  }).join();
  log = es_double::clientLog();
  check(log.deleted && log.unsubscribed_before_delete, "stop unsubscribes, then deletes the client");
  check(log.created_on == log.deleted_on, "es_delete_client runs on the thread that called es_new_client");
  check(log.created_on != starter && log.created_on != stopper, "the client lives on a thread of its own");
  es_double::deliver(&exit.message);
  check(sink.pushesAfterClose() == 0, "no record is pushed after stop returns");
  backend->stop();
  check(true, "a second stop is harmless");

  Sink again;
  backend->start(again);
  es_double::deliver(&exec.message);
  es_double::drain();
  backend->stop();
  check(again.count() == 1, "the backend starts again after a stop");
}

// The BackendError code start() throws when ES answers `answers`; "nothing" when it starts.
std::string startFailure(const es_double::ClientAnswers& answers) {
  es_double::setClientAnswers(answers);
  auto backend = esBackend();
  Sink sink;
  try {
    backend->start(sink);
  } catch (const BackendError& e) {
    return e.code();
  }
  backend->stop();
  return "nothing";
}

void startFailures() {
  const std::pair<es_new_client_result_t, const char*> results[] = {
      {ES_NEW_CLIENT_RESULT_ERR_NOT_ENTITLED, keysentry::es::kNotEntitled},
      {ES_NEW_CLIENT_RESULT_ERR_NOT_PERMITTED, keysentry::es::kNotPermitted},
      {ES_NEW_CLIENT_RESULT_ERR_NOT_PRIVILEGED, keysentry::es::kNotPrivileged},
      {ES_NEW_CLIENT_RESULT_ERR_TOO_MANY_CLIENTS, keysentry::es::kTooManyClients},
      {ES_NEW_CLIENT_RESULT_ERR_INVALID_ARGUMENT, keysentry::es::kInvalidArgument},
      {ES_NEW_CLIENT_RESULT_ERR_INTERNAL, keysentry::es::kInternal},
  };
  for (const auto& [result, code] : results) {
    es_double::ClientAnswers answers;
    answers.new_client = result;
    const std::string thrown = startFailure(answers);
    check(thrown == code, std::string("es_new_client failure ") + std::to_string(result) + " -> " + code, thrown);
  }

  const std::pair<const char*, es_double::ClientAnswers> setup[] = {
      {keysentry::es::kMuteFailed, {ES_NEW_CLIENT_RESULT_SUCCESS, ES_RETURN_ERROR, ES_RETURN_SUCCESS}},
      {keysentry::es::kSubscribeFailed, {ES_NEW_CLIENT_RESULT_SUCCESS, ES_RETURN_SUCCESS, ES_RETURN_ERROR}},
  };
  for (const auto& [code, answers] : setup) {
    const std::string thrown = startFailure(answers);
    const es_double::ClientLog log = es_double::clientLog();
    check(thrown == code && log.deleted && log.created_on == log.deleted_on,
          std::string(code) + ": start throws and the client is deleted on its own thread", thrown);
  }
  es_double::setClientAnswers({});
}

}  // namespace

int main() {
  lifecycle();
  startFailures();
  std::printf("%d failed\n", g_failures);
  return g_failures == 0 ? 0 : 1;
}

// The EndpointSecurity backend: the only file that talks to es_new_client, kept thin. The
// handler block hands each message to plain C++ (es_translate) and returns at once; the
// sink it pushes to is the core's bounded queue, which never blocks.
#include <EndpointSecurity/EndpointSecurity.h>
#include <mach/mach.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "../core/backend.h"
#include "es_errors.h"
#include "es_translate.h"

namespace keysentry {
namespace {

const es_event_type_t kSubscribedEvents[] = {ES_EVENT_TYPE_NOTIFY_EXEC, ES_EVENT_TYPE_NOTIFY_FORK,
                                             ES_EVENT_TYPE_NOTIFY_EXIT};

class EsBackend final : public Backend {
 public:
  ~EsBackend() override { stop(); }
  const char* name() const override { return "es"; }

  void start(RecordSink& sink) override {
    std::unique_lock<std::mutex> lock(mutex_);
    if (thread_.joinable()) return;
    phase_ = Phase::Starting;
    translator_ = std::make_unique<es::MessageTranslator>(sink);
    // es_delete_client must run on the thread that called es_new_client, and start()/stop()
    // may come from different threads: the client lives on a thread of its own.
    thread_ = std::thread([this] { runClient(); });
    cv_.wait(lock, [this] { return phase_ != Phase::Starting; });
    if (phase_ == Phase::Failed) {
      lock.unlock();
      thread_.join();
      std::unique_ptr<BackendError> error = std::move(error_);
      throw *error;
    }
  }

  void stop() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!thread_.joinable()) return;
      stop_requested_ = true;
    }
    cv_.notify_all();
    thread_.join();
    std::lock_guard<std::mutex> lock(mutex_);
    stop_requested_ = false;
    phase_ = Phase::Idle;
  }

 private:
  enum class Phase { Idle, Starting, Running, Failed };

  void runClient() {
    es_client_t* client = nullptr;
    setDelivering(true);
    const es_new_client_result_t result =
        es_new_client(&client, ^(es_client_t*, const es_message_t* message) { deliver(*message); });
    if (result != ES_NEW_CLIENT_RESULT_SUCCESS) {
      setDelivering(false);
      return fail(es::newClientError(result));
    }
    // Muted so the agent never sees its own process's forks and execs.
    audit_token_t self;
    mach_msg_type_number_t count = TASK_AUDIT_TOKEN_COUNT;
    if (task_info(mach_task_self(), TASK_AUDIT_TOKEN, reinterpret_cast<task_info_t>(&self), &count) != KERN_SUCCESS ||
        es_mute_process(client, &self) != ES_RETURN_SUCCESS) {
      deleteClient(client);
      return fail(es::clientSetupError(es::kMuteFailed, "muting its own process (task_info, es_mute_process)"));
    }
    const auto count_of_events = static_cast<uint32_t>(sizeof(kSubscribedEvents) / sizeof(kSubscribedEvents[0]));
    if (es_subscribe(client, kSubscribedEvents, count_of_events) != ES_RETURN_SUCCESS) {
      deleteClient(client);
      return fail(es::clientSetupError(es::kSubscribeFailed, "es_subscribe(NOTIFY_EXEC, NOTIFY_FORK, NOTIFY_EXIT)"));
    }
    {
      std::unique_lock<std::mutex> lock(mutex_);
      phase_ = Phase::Running;
      cv_.notify_all();
      cv_.wait(lock, [this] { return stop_requested_; });
    }
    deleteClient(client);
  }

  // After this returns no handler is inside deliver(), so no push() follows stop().
  void deleteClient(es_client_t* client) {
    setDelivering(false);
    es_unsubscribe_all(client);
    es_delete_client(client);
  }

  void fail(BackendError error) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::make_unique<BackendError>(std::move(error));
    phase_ = Phase::Failed;
    cv_.notify_all();
  }

  void setDelivering(bool delivering) {
    std::lock_guard<std::mutex> lock(handler_mutex_);
    delivering_ = delivering;
  }

  // ES calls the handler serially, so handler_mutex_ is contended only while stopping.
  void deliver(const es_message_t& message) {
    std::lock_guard<std::mutex> lock(handler_mutex_);
    if (delivering_) translator_->handle(message);
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  Phase phase_ = Phase::Idle;
  bool stop_requested_ = false;
  std::unique_ptr<BackendError> error_;
  std::thread thread_;

  std::mutex handler_mutex_;
  bool delivering_ = false;
  std::unique_ptr<es::MessageTranslator> translator_;
};

}  // namespace

std::unique_ptr<Backend> createBackend(const BackendOptions& options) {
  if (options.name == "auto" || options.name == "es") return std::make_unique<EsBackend>();
  return nullptr;
}

}  // namespace keysentry

// A capture session: one backend, the bounded queue, and the flusher thread that packs
// queued records into batches and hands them to a Delivery (the N-API side, addon.cc).
// No N-API in here, so the whole path below JavaScript is plain threads and buffers.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backend.h"
#include "queue.h"

namespace keysentry {

struct SessionOptions {
  QueueLimits limits;
  size_t batch_records = 1024;
  // A lone exec waits at most this long for company before it is sent.
  std::chrono::microseconds flush_delay{1000};
  // Forks and exits wait up to this long: no alert waits on them, and the next exec's batch
  // carries them along, so a short process costs one wake-up of JavaScript, not three.
  std::chrono::microseconds lifecycle_flush_delay{50000};
  // Deliveries handed to JavaScript and not yet consumed; beyond it the flusher waits and
  // the queue absorbs (then drops) the surplus, so a stalled event loop cannot grow memory.
  size_t max_in_flight = 8;
  // Baseline for the benchmark: one JavaScript call, and one C++-built object, per record.
  bool per_event = false;
};

struct Counters {
  std::atomic<uint64_t> captured{0};   // records the backend pushed
  std::atomic<uint64_t> dropped{0};    // ... that did not fit the queue, or came after stop
  std::atomic<uint64_t> delivered{0};  // ... that reached the JavaScript callback
  std::atomic<uint64_t> source_lost{0};  // events the source itself reported lost
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> callback_errors{0};  // the JavaScript callback threw
  std::atomic<uint64_t> repairs{0};  // capture undone by someone else and put back
};

// What the backend last said about its capture: the last repair, and why it is degraded.
struct CaptureHealth {
  std::string last_repair;
  std::string degraded;  // empty: capture is in place
};

// Implemented by the N-API layer. Both return false when JavaScript can no longer take
// deliveries (environment shutting down): the records are then counted as dropped.
class Delivery {
 public:
  virtual ~Delivery() = default;
  virtual bool deliverBatch(std::vector<uint8_t>&& batch, uint32_t records) = 0;
  virtual bool deliverRecord(ProcessRecord&& record) = 0;
};

class CaptureSession final : public RecordSink {
 public:
  CaptureSession(std::unique_ptr<Backend> backend, const SessionOptions& options, Delivery& delivery);
  ~CaptureSession() override;

  // Throws BackendError when the backend cannot start; the session is then stopped.
  void start();
  // Idempotent. Records still queued are flushed to the Delivery without waiting for
  // JavaScript, so stop() never waits on the thread that calls it.
  void stop();

  // Called (on the JavaScript thread) once a delivery has been consumed or discarded.
  void deliveryDone(uint32_t records, bool reached_js);

  const Counters& counters() const { return counters_; }
  Counters& counters() { return counters_; }
  const char* backendName() const { return backend_->name(); }

  void push(ProcessRecord&& record) override;
  void reportSourceLoss(uint64_t count) override;
  void reportRepair(const std::string& what) override;
  void reportDegraded(const std::string& reason) override;
  CaptureHealth health() const;

 private:
  void flushLoop();
  // Waits for an in-flight slot, except when stopping: then it takes one at once.
  void waitForSlot();
  void send(std::vector<ProcessRecord>& records);

  std::unique_ptr<Backend> backend_;
  const SessionOptions options_;
  Delivery& delivery_;
  RecordQueue queue_;
  Counters counters_;
  mutable std::mutex health_mu_;
  CaptureHealth health_;

  std::mutex flight_mu_;
  std::condition_variable flight_cv_;
  size_t in_flight_ = 0;
  bool stopping_ = false;

  std::thread flusher_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace keysentry

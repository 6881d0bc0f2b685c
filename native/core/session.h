// A capture session: one backend, the bounded batch queue, and the flusher thread that seals
// a batch whose deadline has come. Records are encoded at push on the backend's thread; a
// sealed batch is handed to a Delivery (the N-API side, addon.cc) by whichever thread has it
// and a free in-flight slot: the capture thread (a batch full, or the leading edge below), the
// JavaScript thread (a slot freed), the flusher (a deadline). No N-API in here, so the whole
// path below JavaScript is plain threads and buffers.
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
#include "urgent_text.h"

namespace keysentry {

struct SessionOptions {
  QueueLimits limits;
  size_t batch_records = 1024;
  // Leading edge: an urgent exec pushed when no batch was sealed for this long is sent at
  // once, with what waits before it, so a lone exec costs no flusher wake-up and no delay.
  // Within it (a burst), an urgent exec waits at most this long for company.
  std::chrono::microseconds flush_delay{1000};
  // Records no alert waits on (forks, exits, execs that are not urgent) wait up to this long:
  // the next urgent exec's batch carries them along, so they cost JavaScript no wake-up of their own.
  std::chrono::microseconds quiet_flush_delay{100000};
  // Which execs are urgent; null: every exec (see urgent_text.h). CaptureSession::setUrgentText swaps it.
  std::shared_ptr<const UrgentText> urgent_text;
  // Deliveries handed to JavaScript and not yet consumed; beyond it sealed batches wait in
  // the queue, which then drops the surplus, so a stalled event loop cannot grow memory.
  size_t max_in_flight = 8;
  // Baseline for the benchmark: one JavaScript call, and one C++-built object, per record.
  bool per_event = false;
};

struct Counters {
  std::atomic<uint64_t> captured{0};   // records the backend pushed
  std::atomic<uint64_t> dropped{0};    // ... that did not fit the queue, or came after stop
  std::atomic<uint64_t> delivered{0};  // ... that reached the JavaScript callback
  std::atomic<uint64_t> source_lost{0};  // events the source itself reported lost
  std::atomic<uint64_t> urgent{0};  // execs found urgent (all of them without urgent text)
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
  virtual bool deliverRecord(const ProcessRecord& record) = 0;
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

  // Thread-safe; applies to the execs pushed after it returns. Null: every exec is urgent.
  void setUrgentText(std::shared_ptr<const UrgentText> urgent_text);

  void push(const ProcessRecord& record) override;
  void reportSourceLoss(uint64_t count) override;
  void reportRepair(const std::string& what) override;
  void reportDegraded(const std::string& reason) override;
  CaptureHealth health() const;

 private:
  using Clock = BatchQueue::Clock;
  void close();
  void flushLoop();
  bool isUrgent(const ProcessRecord& record);
  void pushSingle(const ProcessRecord& record, std::unique_lock<std::mutex>& lock);
  // Seals the open batch when its deadline has passed, hands sealed batches to JavaScript
  // while in-flight slots are free (all of them when stopping), and wakes the flusher when
  // the open batch is due before the flusher would wake by itself.
  void advance(Clock::time_point now, std::unique_lock<std::mutex>& lock);
  void sealOpen(Clock::time_point now);
  // One thread at a time delivers, with the lock released during each call, so batches reach
  // the thread-safe function in the order they were sealed.
  void sendSealed(std::unique_lock<std::mutex>& lock);
  // Once closed, deliveries no longer wait for a slot: stop() never waits on JavaScript.
  bool slotFree() const { return closed_ || in_flight_ < options_.max_in_flight; }

  std::unique_ptr<Backend> backend_;
  const SessionOptions options_;
  Delivery& delivery_;
  Counters counters_;
  mutable std::mutex health_mu_;
  CaptureHealth health_;

  // Its own mutex, held only to copy the pointer: the scan runs outside both locks.
  std::mutex urgent_mu_;
  std::shared_ptr<const UrgentText> urgent_text_;

  // Guards everything below.
  std::mutex mu_;
  BatchQueue queue_;
  std::condition_variable flusher_cv_;
  std::condition_variable room_cv_;  // block_when_full producers (and per-event ones) wait here
  Clock::time_point flusher_wakes_at_ = Clock::time_point::max();
  Clock::time_point last_seal_{};
  size_t in_flight_ = 0;
  uint64_t appended_ = 0;  // records encoded so far: tells the flusher whether records keep coming
  // stop() has begun: producers blocked on a full queue give up, so their threads can be joined;
  // records pushed without waiting (a backend's last, held-back exits) are still taken.
  bool stopping_ = false;
  bool closed_ = false;  // push() refuses from now on
  bool delivering_ = false;  // a thread is in sendSealed()'s delivery loop

  std::thread flusher_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace keysentry

#include "session.h"

#include "batch.h"
#include "thread_name.h"

namespace keysentry {

CaptureSession::CaptureSession(std::unique_ptr<Backend> backend, const SessionOptions& options, Delivery& delivery)
    : backend_(std::move(backend)),
      options_(options),
      delivery_(delivery),
      urgent_text_(options.urgent_text),
      queue_(options.limits, options.per_event ? 1 : options.batch_records) {}

CaptureSession::~CaptureSession() { stop(); }

void CaptureSession::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  flusher_cv_.notify_all();
  room_cv_.notify_all();
}

void CaptureSession::start() {
  started_ = true;
  flusher_ = std::thread([this] {
    nameThisThread("ks-flusher");
    flushLoop();
  });
  try {
    backend_->start(*this);
  } catch (...) {
    stopped_ = true;  // the backend never started: do not stop() it
    close();
    flusher_.join();
    throw;
  }
}

void CaptureSession::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  // A producer blocked on a full queue (block_when_full) must wake up before its thread can
  // be joined: it gives up, and that record counts as dropped. What the backend pushes while
  // it stops (the exits it held back) goes out with the last batch; after close() nothing is taken.
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  room_cv_.notify_all();
  backend_->stop();  // no push() after this returns
  close();
  flusher_.join();
}

void CaptureSession::setUrgentText(std::shared_ptr<const UrgentText> urgent_text) {
  std::lock_guard<std::mutex> lock(urgent_mu_);
  urgent_text_.swap(urgent_text);
}  // the previous set is freed here, after the unlock, unless a scan still holds it

bool CaptureSession::isUrgent(const ProcessRecord& record) {
  if (record.kind != RecordKind::Exec) return false;
  std::shared_ptr<const UrgentText> urgent_text;
  {
    std::lock_guard<std::mutex> lock(urgent_mu_);
    urgent_text = urgent_text_;
  }
  const bool urgent = urgent_text == nullptr || urgent_text->matches(record);
  if (urgent) counters_.urgent.fetch_add(1, std::memory_order_relaxed);
  return urgent;
}

void CaptureSession::push(const ProcessRecord& record) {
  counters_.captured.fetch_add(1, std::memory_order_relaxed);
  const bool urgent = isUrgent(record);
  const size_t bound = options_.per_event ? 0 : encodedSize(record);
  std::unique_lock<std::mutex> lock(mu_);
  if (options_.per_event) {
    pushSingle(record, lock);
    return;
  }
  if (options_.limits.block_when_full) {
    // A record larger than the whole byte budget could never fit: it is dropped, not waited on.
    room_cv_.wait(lock, [&] { return stopping_ || closed_ || queue_.fits(bound) || queue_.empty(); });
  }
  if (closed_ || !queue_.fits(bound)) {
    counters_.dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const Clock::time_point now = Clock::now();
  ++appended_;
  if (queue_.append(record, urgent, now)) last_seal_ = now;
  // Leading edge: nothing was sent for a flush delay, so this urgent exec is not part of a
  // burst worth waiting for; sent now (with every record pushed before it), it costs no
  // flusher wake-up and no added latency.
  if (urgent && !queue_.hasSealed() && !queue_.openEmpty() && in_flight_ < options_.max_in_flight &&
      now - last_seal_ >= options_.flush_delay) {
    sealOpen(now);
  }
  advance(now, lock);
}

// The baseline of the benchmark: each record is its own delivery, copied for the JavaScript
// thread, which builds an object from it.
void CaptureSession::pushSingle(const ProcessRecord& record, std::unique_lock<std::mutex>& lock) {
  if (options_.limits.block_when_full) room_cv_.wait(lock, [&] { return stopping_ || slotFree(); });
  if (closed_ || !slotFree()) {
    counters_.dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  ++in_flight_;
  if (!delivery_.deliverRecord(record)) {
    --in_flight_;
    counters_.dropped.fetch_add(1, std::memory_order_relaxed);
  }
}

void CaptureSession::sealOpen(Clock::time_point now) {
  queue_.seal();
  last_seal_ = now;
}

void CaptureSession::advance(Clock::time_point now, std::unique_lock<std::mutex>& lock) {
  sendSealed(lock);
  if (queue_.openEmpty() || queue_.hasSealed()) return;  // a freed slot advances again
  const Clock::time_point due = queue_.due(options_.flush_delay, options_.quiet_flush_delay);
  if (now >= due) {
    sealOpen(now);
    sendSealed(lock);
  } else if (due < flusher_wakes_at_) {
    flusher_wakes_at_ = due;
    flusher_cv_.notify_one();
  }
}

void CaptureSession::sendSealed(std::unique_lock<std::mutex>& lock) {
  if (delivering_) return;  // that thread sends these too, in order, before it stops
  delivering_ = true;
  bool took = false;
  while (queue_.hasSealed() && slotFree()) {
    SealedBatch batch = queue_.takeSealed();
    took = true;
    ++in_flight_;
    counters_.batches.fetch_add(1, std::memory_order_relaxed);
    const uint32_t n = batch.records;
    // Unlocked: the JavaScript thread, woken by this very call, takes the lock to say it is done.
    lock.unlock();
    const bool handed = delivery_.deliverBatch(std::move(batch.bytes), n);
    lock.lock();
    if (!handed) {
      --in_flight_;
      counters_.dropped.fetch_add(n, std::memory_order_relaxed);
    }
  }
  delivering_ = false;
  if (took && options_.limits.block_when_full) room_cv_.notify_all();
}

void CaptureSession::flushLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  uint64_t appended_when_looked = appended_;
  Clock::time_point nap_ends = Clock::time_point::max();
  while (!closed_) {
    const Clock::time_point now = Clock::now();
    // A nap's end: what was pushed during the nap goes now, a little before its quiet deadline
    // (the nap began before the first of it), which would cost a second wake-up per nap.
    if (now >= nap_ends && !queue_.openEmpty() && !queue_.hasSealed()) sealOpen(now);
    nap_ends = Clock::time_point::max();
    advance(now, lock);
    if (!queue_.openEmpty() && !queue_.hasSealed()) {
      flusher_wakes_at_ = queue_.due(options_.flush_delay, options_.quiet_flush_delay);
    } else if (appended_ != appended_when_looked) {
      // Records keep coming: a nap of the quiet delay ends before the quiet deadline of any
      // record pushed meanwhile, so those pushes need not wake the flusher one by one; an
      // urgent exec's earlier deadline wakes it (advance()). An open batch left over while no
      // slot is free is the JavaScript thread's to advance when it frees one.
      flusher_wakes_at_ = now + options_.quiet_flush_delay;
      nap_ends = flusher_wakes_at_;
    } else {
      flusher_wakes_at_ = Clock::time_point::max();  // quiet: the next push wakes it
    }
    appended_when_looked = appended_;
    if (flusher_wakes_at_ == Clock::time_point::max()) flusher_cv_.wait(lock);
    else flusher_cv_.wait_until(lock, flusher_wakes_at_);
  }
  // Stopping: everything queued goes to JavaScript at once, without waiting for a slot.
  queue_.seal();
  sendSealed(lock);
}

void CaptureSession::reportSourceLoss(uint64_t count) { counters_.source_lost.fetch_add(count, std::memory_order_relaxed); }

void CaptureSession::reportRepair(const std::string& what) {
  std::lock_guard<std::mutex> lock(health_mu_);
  counters_.repairs.fetch_add(1, std::memory_order_relaxed);
  health_.last_repair = what;
}

void CaptureSession::reportDegraded(const std::string& reason) {
  std::lock_guard<std::mutex> lock(health_mu_);
  health_.degraded = reason;
}

CaptureHealth CaptureSession::health() const {
  std::lock_guard<std::mutex> lock(health_mu_);
  return health_;
}

void CaptureSession::deliveryDone(uint32_t records, bool reached_js) {
  (reached_js ? counters_.delivered : counters_.dropped).fetch_add(records, std::memory_order_relaxed);
  std::unique_lock<std::mutex> lock(mu_);
  --in_flight_;
  if (!options_.per_event) {
    advance(Clock::now(), lock);
  } else if (options_.limits.block_when_full) {
    lock.unlock();  // the producer wakes to a free lock
    room_cv_.notify_one();
  }
}

}  // namespace keysentry

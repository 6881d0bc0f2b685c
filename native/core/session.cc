#include "session.h"

#include "batch.h"

namespace keysentry {

CaptureSession::CaptureSession(std::unique_ptr<Backend> backend, const SessionOptions& options, Delivery& delivery)
    : backend_(std::move(backend)), options_(options), delivery_(delivery), queue_(options.limits) {}

CaptureSession::~CaptureSession() { stop(); }

void CaptureSession::start() {
  started_ = true;
  flusher_ = std::thread([this] { flushLoop(); });
  try {
    backend_->start(*this);
  } catch (...) {
    stopped_ = true;  // the backend never started: do not stop() it
    queue_.close();
    {
      std::lock_guard<std::mutex> lock(flight_mu_);
      stopping_ = true;
    }
    flight_cv_.notify_all();
    flusher_.join();
    throw;
  }
}

void CaptureSession::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  // Close first: a producer blocked on a full queue (block_when_full) must wake up before
  // its thread can be joined; what it pushes from now on is refused and counted as dropped.
  queue_.close();
  {
    std::lock_guard<std::mutex> lock(flight_mu_);
    stopping_ = true;
  }
  flight_cv_.notify_all();
  backend_->stop();  // no push() after this returns
  flusher_.join();
}

void CaptureSession::push(ProcessRecord&& record) {
  counters_.captured.fetch_add(1, std::memory_order_relaxed);
  const size_t bytes = encodedSize(record);
  const bool urgent = record.kind == RecordKind::Exec;
  if (!queue_.push(std::move(record), bytes, urgent)) counters_.dropped.fetch_add(1, std::memory_order_relaxed);
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
  {
    std::lock_guard<std::mutex> lock(flight_mu_);
    --in_flight_;
  }
  flight_cv_.notify_one();
}

void CaptureSession::waitForSlot() {
  std::unique_lock<std::mutex> lock(flight_mu_);
  flight_cv_.wait(lock, [&] { return stopping_ || in_flight_ < options_.max_in_flight; });
  ++in_flight_;
}

void CaptureSession::flushLoop() {
  std::vector<ProcessRecord> records;
  const size_t per_pop = options_.per_event ? 1 : options_.batch_records;
  while (queue_.popBatch(records, per_pop, options_.flush_delay, options_.lifecycle_flush_delay)) {
    send(records);
    records.clear();
  }
}

void CaptureSession::send(std::vector<ProcessRecord>& records) {
  waitForSlot();
  if (options_.per_event) {
    for (size_t i = 0; i < records.size(); ++i) {
      if (i > 0) waitForSlot();
      if (!delivery_.deliverRecord(std::move(records[i]))) deliveryDone(1, false);
    }
    return;
  }
  BatchWriter writer;
  size_t bytes = 0;
  for (const auto& r : records) bytes += encodedSize(r);
  writer.reserve(bytes);
  for (const auto& r : records) writer.append(r);
  const uint32_t n = writer.recordCount();
  counters_.batches.fetch_add(1, std::memory_order_relaxed);
  if (!delivery_.deliverBatch(writer.finish(), n)) deliveryDone(n, false);
}

}  // namespace keysentry

#include "queue.h"

#include <algorithm>

namespace keysentry {

bool RecordQueue::push(ProcessRecord&& record, size_t bytes, bool urgent) {
  std::unique_lock<std::mutex> lock(mu_);
  if (limits_.block_when_full) {
    // A record larger than the whole byte budget could never fit: it is dropped, not waited on.
    room_.wait(lock, [&] { return closed_ || fits(bytes) || entries_.empty(); });
  }
  if (closed_ || !fits(bytes)) return false;
  const bool was_empty = entries_.empty();
  // The first urgent record shortens the flusher's deadline, so it wakes the flusher too.
  const bool first_urgent = urgent && !has_urgent_;
  if (was_empty || first_urgent) {
    const Clock::time_point now = Clock::now();
    if (was_empty) oldest_arrival_ = now;
    if (first_urgent) {
      has_urgent_ = true;
      oldest_urgent_arrival_ = now;
    }
  }
  entries_.push_back(Entry{std::move(record), bytes});
  bytes_ += bytes;
  if (was_empty || first_urgent || entries_.size() == batch_hint_) {
    lock.unlock();
    ready_.notify_one();
  }
  return true;
}

bool RecordQueue::popBatch(std::vector<ProcessRecord>& out, size_t max_records, std::chrono::microseconds max_delay, std::chrono::microseconds lazy_delay) {
  std::unique_lock<std::mutex> lock(mu_);
  batch_hint_ = max_records;
  ready_.wait(lock, [&] { return closed_ || !entries_.empty(); });
  if (entries_.empty()) return false;  // closed and drained
  // The deadline moves earlier when an urgent record joins: recomputed after each wake-up.
  const auto due = [&] { return has_urgent_ ? std::min(oldest_arrival_ + lazy_delay, oldest_urgent_arrival_ + max_delay) : oldest_arrival_ + lazy_delay; };
  while (!closed_ && entries_.size() < max_records) {
    const Clock::time_point deadline = due();
    if (Clock::now() >= deadline) break;
    ready_.wait_until(lock, deadline);
  }
  const size_t n = std::min(max_records, entries_.size());
  out.reserve(out.size() + n);
  for (size_t i = 0; i < n; ++i) {
    bytes_ -= entries_.front().bytes;
    out.push_back(std::move(entries_.front().record));
    entries_.pop_front();
  }
  // What is left is older than any record still to come: its deadline has already passed,
  // so oldest_arrival_ (and the urgent mark) stay as they were and the next popBatch()
  // returns at once.
  if (entries_.empty()) has_urgent_ = false;
  lock.unlock();
  if (limits_.block_when_full) room_.notify_all();
  return true;
}

void RecordQueue::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  ready_.notify_all();
  room_.notify_all();
}

size_t RecordQueue::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace keysentry

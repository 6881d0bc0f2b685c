// The bounded queue between a backend's capture thread and the flusher thread.
//
// Policy: drop-newest. A record that does not fit (record or byte cap) is discarded and
// counted; records already queued are never evicted. Older records carry the forks and execs
// later ones depend on for parent resolution, and dropping at the producer keeps the
// consumer's side lock-short. `block_when_full` makes push() wait instead (synthetic
// benchmark producer only: it measures delivery, not the drop path).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

#include "record.h"

namespace keysentry {

struct QueueLimits {
  size_t max_records = 65536;
  size_t max_bytes = 64u << 20;
  bool block_when_full = false;
};

class RecordQueue {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RecordQueue(const QueueLimits& limits) : limits_(limits) {}

  // False when the record was dropped (full, or the queue is closed). An `urgent` record
  // (an exec, which an alert may wait on) bounds its batch's delay by popBatch's `max_delay`;
  // the others only by `lazy_delay`.
  bool push(ProcessRecord&& record, size_t bytes, bool urgent = true);

  // Waits until a batch is due: `max_records` queued, or the oldest urgent record has waited
  // `max_delay`, or the oldest record `lazy_delay`, or the queue is closed. Moves up to
  // `max_records` into `out`. False once the queue is closed and empty.
  bool popBatch(std::vector<ProcessRecord>& out, size_t max_records, std::chrono::microseconds max_delay, std::chrono::microseconds lazy_delay);

  // Wakes every waiter; push() refuses from now on, popBatch() drains what is left.
  void close();

  size_t size() const;

 private:
  struct Entry {
    ProcessRecord record;
    size_t bytes;
  };
  bool fits(size_t bytes) const { return entries_.size() < limits_.max_records && bytes_ + bytes <= limits_.max_bytes; }

  const QueueLimits limits_;
  mutable std::mutex mu_;
  std::condition_variable ready_;  // the flusher waits here
  std::condition_variable room_;   // block_when_full producers wait here
  std::deque<Entry> entries_;
  size_t bytes_ = 0;
  size_t batch_hint_ = 1;  // popBatch's max_records: push wakes the flusher when a batch is full
  Clock::time_point oldest_arrival_{};
  bool has_urgent_ = false;  // an urgent record is queued, since oldest_urgent_arrival_
  Clock::time_point oldest_urgent_arrival_{};
  bool closed_ = false;
};

}  // namespace keysentry

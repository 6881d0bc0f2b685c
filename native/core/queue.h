// The bounded queue between a backend's capture thread and JavaScript: records are encoded
// into the open batch as they are pushed (BatchWriter), and the queue holds sealed batches
// until an in-flight slot to JavaScript is free. No record object crosses a thread: the
// capture thread's own record (and its strings) can be reused for the next event.
//
// Policy: drop-newest. A record that does not fit (record or byte cap, over the open and the
// sealed batches) is refused and counted by the caller; what is queued is never evicted.
// Older records carry the forks and execs later ones depend on for parent resolution.
//
// Not thread-safe: CaptureSession's mutex guards it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "batch.h"
#include "record.h"

namespace keysentry {

struct QueueLimits {
  size_t max_records = 65536;
  size_t max_bytes = 64u << 20;
  bool block_when_full = false;  // synthetic benchmark producer only: it measures delivery
};

// A batch ready for JavaScript.
struct SealedBatch {
  std::vector<uint8_t> bytes;
  uint32_t records = 0;
};

class BatchQueue {
 public:
  using Clock = std::chrono::steady_clock;

  BatchQueue(const QueueLimits& limits, size_t batch_records) : limits_(limits), batch_records_(batch_records) {}

  // Whether a record of `encoded_bound` bytes (encodedSize) fits under both caps.
  bool fits(size_t encoded_bound) const {
    return records_ < limits_.max_records && bytes_ + encoded_bound <= limits_.max_bytes;
  }
  bool empty() const { return records_ == 0; }

  // Appends to the open batch, sealing it when it reaches `batch_records`. An `urgent`
  // record (an exec an alert may wait on: urgent_text.h) bounds the open batch's delay by
  // `urgent_delay` in due(); the others only by `quiet_delay`. True when it sealed.
  bool append(const ProcessRecord& record, bool urgent, Clock::time_point now);

  bool openEmpty() const { return writer_.recordCount() == 0; }
  // When the open batch must be sealed: its oldest urgent record plus `urgent_delay`, or
  // its oldest record plus `quiet_delay`. Only meaningful when !openEmpty().
  Clock::time_point due(std::chrono::microseconds urgent_delay, std::chrono::microseconds quiet_delay) const;
  void seal();

  bool hasSealed() const { return !sealed_.empty(); }
  // The oldest sealed batch; its records and bytes leave the caps' accounting.
  SealedBatch takeSealed();

 private:
  struct Accounted {
    SealedBatch batch;
    size_t bytes;
  };

  const QueueLimits limits_;
  const size_t batch_records_;
  BatchWriter writer_;
  size_t open_bytes_ = 0;
  Clock::time_point open_since_{};
  bool open_has_urgent_ = false;
  Clock::time_point open_urgent_since_{};
  std::deque<Accounted> sealed_;
  size_t records_ = 0;  // in the open and the sealed batches
  size_t bytes_ = 0;
};

}  // namespace keysentry

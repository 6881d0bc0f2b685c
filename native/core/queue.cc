#include "queue.h"

#include <algorithm>

namespace keysentry {

bool BatchQueue::append(const ProcessRecord& record, bool urgent, Clock::time_point now) {
  if (writer_.recordCount() == 0) {
    open_since_ = now;
    open_has_urgent_ = false;
  }
  if (urgent && !open_has_urgent_) {
    open_has_urgent_ = true;
    open_urgent_since_ = now;
  }
  const size_t before = writer_.byteSize();
  writer_.append(record);
  const size_t added = writer_.byteSize() - before;
  open_bytes_ += added;
  bytes_ += added;
  ++records_;
  if (writer_.recordCount() < batch_records_) return false;
  seal();
  return true;
}

BatchQueue::Clock::time_point BatchQueue::due(std::chrono::microseconds urgent_delay, std::chrono::microseconds quiet_delay) const {
  const Clock::time_point quiet = open_since_ + quiet_delay;
  return open_has_urgent_ ? std::min(quiet, open_urgent_since_ + urgent_delay) : quiet;
}

void BatchQueue::seal() {
  if (writer_.recordCount() == 0) return;
  const uint32_t n = writer_.recordCount();
  sealed_.push_back(Accounted{SealedBatch{writer_.finish(), n}, open_bytes_});
  open_bytes_ = 0;
}

SealedBatch BatchQueue::takeSealed() {
  Accounted front = std::move(sealed_.front());
  sealed_.pop_front();
  records_ -= front.batch.records;
  bytes_ -= front.bytes;
  return std::move(front.batch);
}

}  // namespace keysentry

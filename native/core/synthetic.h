// An in-addon producer for the benchmark: records of realistic size, as fast as the queue
// takes them. Platform-independent, so the delivery path is measured the same everywhere.
#pragma once

#include <cstdint>
#include <memory>

#include "backend.h"

namespace keysentry {

std::unique_ptr<Backend> createSyntheticBackend(uint64_t record_count);

}  // namespace keysentry

// The one interface every platform backend implements.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "record.h"

namespace keysentry {

// Where a backend delivers records. Called from the backend's capture thread.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  // The record is encoded before push() returns: the backend may reuse it (and the capacity
  // of its strings) for the next event.
  virtual void push(const ProcessRecord& record) = 0;
  // Events the source itself says it lost (audit backlog overflow, ES seq_num gap).
  virtual void reportSourceLoss(uint64_t count) = 0;
  // The backend found its capture undone by someone else and put it back (`what` says what).
  virtual void reportRepair(const std::string& what) { (void)what; }
  // Why capture is not in place and could not be repaired; empty once it is again.
  virtual void reportDegraded(const std::string& reason) { (void)reason; }
};

// A start failure the user can act on: `what()` says what to do.
class BackendError : public std::runtime_error {
 public:
  BackendError(const std::string& code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

struct BackendOptions {
  std::string name;  // "auto" or a backend name of this platform
  int32_t self_pid = 0;  // the agent's own pid, muted by the backend
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  // Starts capture; throws BackendError when the facility is unavailable.
  virtual void start(RecordSink& sink) = 0;
  // Stops capture; no push() happens after it returns.
  virtual void stop() = 0;
};

// Defined once per platform (linux/, macos/): the backends that platform has.
std::unique_ptr<Backend> createBackend(const BackendOptions& options);

}  // namespace keysentry

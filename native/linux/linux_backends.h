// The Linux backends, created by createBackend() in backends.cc.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "backend.h"
#include "procfs.h"

namespace keysentry {

// Forks and exits that the audit backend's capture thread reads beside its own sockets, so
// one thread pushes both: draining the feed right before each exec pushes a child's fork
// before its exec (the kernel queues the fork event before the child runs).
class LifecycleFeed {
 public:
  // No alert waits on forks and exits: the feed is read with each exec, and otherwise at
  // most this often, so the machine's forks and exits do not wake the thread one by one.
  static constexpr std::chrono::milliseconds kBatching{50};

  virtual ~LifecycleFeed() = default;
  virtual int fd() const = 0;
  // Reads what is queued, without blocking, and pushes the forks; returns the datagrams read.
  // Exits are appended to `exits` for the caller to push later, after the execs it reads
  // next: the audit records of a short process can come after the connector saw it end.
  // A fork of a pid whose exit is still in `exits` (the pid was reused) pushes that exit first.
  // `images` forgets each process that ended or began, and everything when events were lost.
  virtual size_t drain(std::vector<ProcessRecord>& exits, linux_proc::ExecutableCache& images) = 0;
};

// `lifecycle` (may be null: execs only) stays valid until the backend has stopped.
std::unique_ptr<Backend> createAuditBackend(const BackendOptions& options, LifecycleFeed* lifecycle);
// The fallback: the connector alone, execs included, on its own thread.
std::unique_ptr<Backend> createConnectorBackend(const BackendOptions& options);
// The connector's forks and exits, pushed to `sink`; throws BackendError when unavailable.
std::unique_ptr<LifecycleFeed> openLifecycleFeed(const BackendOptions& options, RecordSink& sink);

}  // namespace keysentry

// createBackend() for Linux: "audit" (primary), "connector" (fallback), or "auto", which
// starts the first of them that works and reports why the others did not. "audit" pairs the
// audit execs with the connector's forks and exits, which audit rules would make expensive.
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "linux_backends.h"

namespace keysentry {
namespace {

// Orders two capture threads' records for the process table: audit's execs and the
// connector's forks. A fork reaches the kernel's connector socket before the child's exec
// record reaches the audit socket, but the two threads may push in the other order; a fork of
// a pid whose exec was already pushed is stale (it would overwrite the new image with the
// parent's) and is dropped. The pid is forgotten at its exit, which the connector reports in
// order with its forks, so a reused pid's fork passes.
class ForkExecGate final : public RecordSink {
 public:
  void setSink(RecordSink& sink) { sink_ = &sink; }

  void push(const ProcessRecord& record) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      const int32_t pid = record.subject.pid;
      switch (record.kind) {
        case RecordKind::Exec:
          if (execed_.size() >= kMaxRemembered) execed_.clear();  // degrade to no gating, never grow
          execed_.insert(pid);
          break;
        case RecordKind::Fork:
          if (execed_.count(pid) != 0) return;
          break;
        case RecordKind::Exit:
          execed_.erase(pid);
          break;
      }
    }
    sink_->push(record);
  }

  void reportSourceLoss(uint64_t count) override { sink_->reportSourceLoss(count); }
  void reportRepair(const std::string& what) override { sink_->reportRepair(what); }
  void reportDegraded(const std::string& reason) override { sink_->reportDegraded(reason); }

 private:
  static constexpr size_t kMaxRemembered = 1u << 16;
  RecordSink* sink_ = nullptr;
  std::mutex mu_;
  std::unordered_set<int32_t> execed_;
};

// Audit for execs (full argv), the process connector for fork/exit (pids are all it needs).
// Without the connector, audit runs alone: execs are what detection needs.
class AuditWithLifecycle final : public Backend {
 public:
  explicit AuditWithLifecycle(const BackendOptions& options)
      : audit_(createAuditBackend(options)), lifecycle_(createConnectorBackend(options, false)) {}

  const char* name() const override { return "audit"; }

  void start(RecordSink& sink) override {
    gate_.setSink(sink);
    audit_->start(gate_);
    try {
      lifecycle_->start(gate_);
      lifecycle_running_ = true;
    } catch (const BackendError&) {
      lifecycle_running_ = false;
    }
  }

  void stop() override {
    if (lifecycle_running_) lifecycle_->stop();
    lifecycle_running_ = false;
    audit_->stop();
  }

 private:
  ForkExecGate gate_;
  std::unique_ptr<Backend> audit_;
  std::unique_ptr<Backend> lifecycle_;
  bool lifecycle_running_ = false;
};

std::unique_ptr<Backend> createAuditWithLifecycle(const BackendOptions& options) {
  return std::make_unique<AuditWithLifecycle>(options);
}

std::unique_ptr<Backend> createConnector(const BackendOptions& options) { return createConnectorBackend(options); }

class FirstWorkingBackend final : public Backend {
 public:
  explicit FirstWorkingBackend(const BackendOptions& options) : options_(options) {}

  const char* name() const override { return active_ ? active_->name() : "auto"; }

  void start(RecordSink& sink) override {
    std::string reasons;
    for (auto factory : {createAuditWithLifecycle, createConnector}) {
      std::unique_ptr<Backend> candidate = factory(options_);
      try {
        candidate->start(sink);
        active_ = std::move(candidate);
        return;
      } catch (const BackendError& e) {
        reasons += std::string(reasons.empty() ? "" : "; ") + candidate->name() + ": " + e.what();
        if (code_.empty()) code_ = e.code();
      }
    }
    throw BackendError(code_, "no Linux capture backend could start (" + reasons + ")");
  }

  void stop() override {
    if (active_) active_->stop();
  }

 private:
  const BackendOptions options_;
  std::unique_ptr<Backend> active_;
  std::string code_;
};

}  // namespace

std::unique_ptr<Backend> createBackend(const BackendOptions& options) {
  if (options.name == "audit") return createAuditWithLifecycle(options);
  if (options.name == "connector") return createConnectorBackend(options);
  if (options.name == "auto") return std::make_unique<FirstWorkingBackend>(options);
  throw BackendError("EINVAL", "unknown Linux backend '" + options.name + "' (audit, connector, auto, synthetic)");
}

}  // namespace keysentry

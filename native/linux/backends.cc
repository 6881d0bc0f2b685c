// createBackend() for Linux: "audit" (primary), "connector" (fallback), or "auto", which
// starts the first of them that works and reports why the others did not. "audit" pairs the
// audit execs with the connector's forks and exits, which audit rules would make expensive.
#include <string>

#include "linux_backends.h"

namespace keysentry {
namespace {

// Audit for execs (full argv), the process connector for fork/exit (pids are all it needs),
// both read by the audit backend's thread. Without the connector, audit runs alone: execs
// are what detection needs.
class AuditWithLifecycle final : public Backend {
 public:
  explicit AuditWithLifecycle(const BackendOptions& options) : options_(options) {}
  ~AuditWithLifecycle() override { stop(); }

  const char* name() const override { return "audit"; }

  void start(RecordSink& sink) override {
    try {
      lifecycle_ = openLifecycleFeed(options_, sink);
    } catch (const BackendError&) {
      lifecycle_.reset();
    }
    audit_ = createAuditBackend(options_, lifecycle_.get());
    try {
      audit_->start(sink);
    } catch (...) {
      audit_.reset();
      lifecycle_.reset();
      throw;
    }
  }

  void stop() override {
    if (audit_) audit_->stop();  // its thread reads the feed: stopped first
    audit_.reset();
    lifecycle_.reset();
  }

 private:
  const BackendOptions options_;
  std::unique_ptr<LifecycleFeed> lifecycle_;
  std::unique_ptr<Backend> audit_;
};

std::unique_ptr<Backend> createAuditWithLifecycle(const BackendOptions& options) {
  return std::make_unique<AuditWithLifecycle>(options);
}

class FirstWorkingBackend final : public Backend {
 public:
  explicit FirstWorkingBackend(const BackendOptions& options) : options_(options) {}

  const char* name() const override { return active_ ? active_->name() : "auto"; }

  void start(RecordSink& sink) override {
    std::string reasons;
    for (auto factory : {createAuditWithLifecycle, createConnectorBackend}) {
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

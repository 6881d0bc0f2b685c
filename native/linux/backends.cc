// createBackend() for Linux: "audit" (primary), "connector" (fallback), or "auto", which
// starts the first of them that works and reports why the others did not.
#include <string>
#include <vector>

#include "linux_backends.h"

namespace keysentry {
namespace {

class FirstWorkingBackend final : public Backend {
 public:
  explicit FirstWorkingBackend(const BackendOptions& options) : options_(options) {}

  const char* name() const override { return active_ ? active_->name() : "auto"; }

  void start(RecordSink& sink) override {
    std::string reasons;
    for (auto factory : {createAuditBackend, createConnectorBackend}) {
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
  if (options.name == "audit") return createAuditBackend(options);
  if (options.name == "connector") return createConnectorBackend(options);
  if (options.name == "auto") return std::make_unique<FirstWorkingBackend>(options);
  throw BackendError("EINVAL", "unknown Linux backend '" + options.name + "' (audit, connector, auto, synthetic)");
}

}  // namespace keysentry

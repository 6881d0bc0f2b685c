#include "synthetic.h"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "thread_name.h"

namespace keysentry {

namespace {

class SyntheticBackend final : public Backend {
 public:
  explicit SyntheticBackend(uint64_t count) : count_(count) {}
  ~SyntheticBackend() override { stop(); }

  const char* name() const override { return "synthetic"; }

  void start(RecordSink& sink) override {
    stop_.store(false);
    thread_ = std::thread([this, &sink] {
      nameThisThread("ks-synthetic");
      produce(sink);
    });
  }

  void stop() override {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }

 private:
  // Shaped like a real exec of `security find-certificate -a -c NAME <keychain>` from a shell.
  // One record is reused, as a capture thread reuses its own: push() encodes it at once.
  void produce(RecordSink& sink) {
    const uint64_t base_ns = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
    ProcessRecord r;
    r.kind = RecordKind::Exec;
    r.parent.pid = 4242;
    r.uid = r.euid = 501;
    r.gid = 20;
    r.has_cwd = true;
    for (uint64_t i = 0; i < count_ && !stop_.load(std::memory_order_relaxed); ++i) {
      r.time_ns = base_ns + i * 1000;
      r.seq = i + 1;
      r.subject.pid = static_cast<int32_t>(10000 + i % 50000);
      // Assigned for every record, as a backend fills its record from each event.
      r.executable.assign("/usr/bin/security");
      r.parent_executable.assign("/bin/zsh");
      r.cwd.assign("/Users/alice/Projects");
      r.args.resize(6);
      r.args[0].assign("security");
      r.args[1].assign("find-certificate");
      r.args[2].assign("-a");
      r.args[3].assign("-c");
      // One argument differs in every record, as a real stream's file names and ids do.
      r.args[4].assign("host-").append(std::to_string(i));
      r.args[5].assign("/Library/Keychains/System.keychain");
      sink.push(r);
    }
  }

  const uint64_t count_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

std::unique_ptr<Backend> createSyntheticBackend(uint64_t record_count) {
  return std::make_unique<SyntheticBackend>(record_count);
}

}  // namespace keysentry

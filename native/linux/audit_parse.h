// Parsing of kernel audit records (text after the netlink header) and reassembly of the
// records of one exec (SYSCALL, EXECVE..., CWD share a serial, come in that order, and may
// arrive interleaved with other events' records; the CWD ends the exec). Pure code: no
// sockets, no /proc.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace keysentry {
namespace audit {

// Record types (linux/audit.h), repeated so this file needs no kernel headers.
constexpr int kSyscall = 1300;
constexpr int kCwd = 1307;
constexpr int kExecve = 1309;
constexpr int kEoe = 1320;

struct ExecEvent {
  uint64_t serial = 0;
  uint64_t time_ns = 0;
  int32_t pid = -1, ppid = -1, uid = -1, euid = -1, gid = -1;
  std::string exe;
  std::string cwd;
  bool has_cwd = false;
  std::vector<std::string> args;
  bool args_complete = true;
};

// "audit(1700000000.123:456): body" -> time, serial, body. False when malformed.
bool parseHeader(std::string_view text, uint64_t& time_ns, uint64_t& serial, std::string_view& body);

// Walks "key=value key="quoted value" ..." without copying.
class FieldReader {
 public:
  explicit FieldReader(std::string_view body) : rest_(body) {}
  bool next(std::string_view& key, std::string_view& value, bool& quoted);

 private:
  std::string_view rest_;
};

// Appends an untrusted-string field as the kernel logs it: "quoted" text, hex when the value
// has spaces, quotes, control or non-ASCII bytes, or (null). Appends at most `limit` bytes and
// returns the length of the whole decoded value. In place: no temporary string per argument.
size_t appendUntrusted(std::string& out, std::string_view value, bool quoted, size_t limit = SIZE_MAX);

// The syscall numbers that are an exec on the architecture an `arch=` field names.
bool isExecSyscall(uint32_t arch, int64_t syscall);

class Assembler {
 public:
  using Clock = std::chrono::steady_clock;

  struct Limits {
    size_t max_pending = 2048;
    std::chrono::milliseconds timeout{2000};
    size_t max_arg_bytes = 256 * 1024;
    size_t max_args = 4096;
  };

  explicit Assembler(const Limits& limits) : limits_(limits) {}

  // Feeds one record. Appends to `done` the exec events it completed.
  void add(int type, std::string_view text, std::vector<ExecEvent>& done);
  // No event waits for more of its records: expire() has nothing to do.
  bool idle() const { return pending_.empty(); }
  // Completes or discards events older than the timeout.
  void expire(Clock::time_point now, std::vector<ExecEvent>& done);
  // Events discarded because the table was full or they never became whole.
  uint64_t takeDiscarded() {
    const uint64_t n = discarded_;
    discarded_ = 0;
    return n;
  }
  // Records that did not parse (malformed text from a kernel we do not know).
  uint64_t malformed() const { return malformed_; }
  // Serials kept for expiry: bounded by the events pending, whatever the number assembled.
  size_t trackedSerials() const { return order_.size(); }

 private:
  struct Pending {
    ExecEvent event;
    Clock::time_point created;
    bool has_syscall = false;
    bool is_exec = false;
    bool success = false;
    int64_t argc = -1;
    size_t arg_bytes = 0;
    std::vector<bool> arg_seen;
    std::vector<int64_t> chunked_len;  // aN_len, or -1
  };

  Pending& pending(uint64_t serial, uint64_t time_ns);
  void parseSyscall(Pending& p, std::string_view body);
  void parseExecve(Pending& p, std::string_view body);
  void finish(uint64_t serial, std::vector<ExecEvent>& done);
  void forgetOrderWhenIdle();
  bool complete(const Pending& p) const;

  const Limits limits_;
  std::unordered_map<uint64_t, Pending> pending_;
  std::deque<uint64_t> order_;  // serials by arrival, for expiry and eviction
  uint64_t discarded_ = 0;
  uint64_t malformed_ = 0;
};

}  // namespace audit
}  // namespace keysentry

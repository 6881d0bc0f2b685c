// Reads of /proc/<pid>/... at capture time, and small fd/thread helpers the Linux
// backends share.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "thread_name.h"

namespace keysentry {
namespace linux_proc {

struct Status {
  int32_t ppid = -1;
  int32_t uid = -1, euid = -1, gid = -1;
};

// Empty when the process is gone or the link is unreadable. " (deleted)" is kept: it is
// what the kernel says the image is.
std::string executable(pid_t pid);
std::string cwd(pid_t pid);
bool status(pid_t pid, Status& out);
// argv as the kernel holds it now; false when nothing could be read (process gone, or a
// zombie/kernel thread with no memory map). `truncated` when the cap cut it short.
bool cmdline(pid_t pid, std::vector<std::string>& args, bool& truncated);

uint64_t wallClockNs();

// The images read from /proc/<pid>/exe, so that a parent of many children costs one readlink
// instead of one per child. It is exactly as right as the reads it replaces only while its
// owner forgets a pid whenever that pid's process execs, ends or is new (a fork: the pid may be
// reused), and clears it whenever it may have missed one of those (lost records, a repair).
class ExecutableCache {
 public:
  // The image of `pid`, read on a miss; empty (and not kept) when the link is unreadable.
  const std::string& executable(pid_t pid);
  void forget(pid_t pid) { images_.erase(pid); }
  void clear() { images_.clear(); }

 private:
  // Live parents are a few hundred on most machines; beyond this, it starts over.
  static constexpr size_t kMaxEntries = 4096;
  std::unordered_map<pid_t, std::string> images_;
  std::string unreadable_;
};

// Caps on what one record may carry from /proc or the audit stream: attacker-chosen argv
// can reach 2 MiB per exec (MAX_ARG_STRLEN x many), far more than any rule reads.
constexpr size_t kMaxArgBytes = 256 * 1024;
constexpr size_t kMaxArgs = 4096;

}  // namespace linux_proc

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset();

 private:
  int fd_ = -1;
};

// Wakes a capture thread blocked in poll(): its stop signal.
class Wakeup {
 public:
  Wakeup();
  void signal();
  void clear();
  int fd() const { return fd_.get(); }

 private:
  Fd fd_;
};

std::string errnoText(int err);

// Asks the kernel for a large socket receive buffer (beyond rmem_max when root), so a
// burst of events waits in the socket rather than being dropped.
void setReceiveBuffer(int fd, int bytes);

// Receives the datagrams queued on a socket, several per system call (recvmmsg): each
// audit record is a datagram of its own, and an exec is three of them (audit.cc leaves its
// other records in the kernel).
class DatagramReader {
 public:
  DatagramReader(size_t count, size_t size);
  // Reads what is queued, without blocking: the number of datagrams (0 when none), or -1
  // with errno set (ENOBUFS: the socket overflowed, the kernel dropped some).
  int receive(int fd);
  // Datagram i of the last receive(): aligned for nlmsghdr, `length` bytes (at most size).
  const char* data(size_t i) const { return buffer_.get() + i * size_; }
  size_t length(size_t i) const { return headers_[i].msg_len; }
  size_t capacity() const { return count_; }

 private:
  const size_t count_;
  const size_t size_;
  std::unique_ptr<char[]> buffer_;
  std::vector<iovec> iov_;
  std::vector<mmsghdr> headers_;
};

// A backend's capture thread: `loop` runs until stop(), polling wakeFd() beside its sockets.
class CaptureThread {
 public:
  ~CaptureThread() { stop(); }
  template <typename Loop>
  void start(const char* name, Loop&& loop) {
    wakeup_.clear();
    thread_ = std::thread([name, loop = std::forward<Loop>(loop)]() mutable {
      nameThisThread(name);
      loop();
    });
  }
  // True when a thread was running (and has now been joined).
  bool stop() {
    if (!thread_.joinable()) return false;
    wakeup_.signal();
    thread_.join();
    return true;
  }
  int wakeFd() const { return wakeup_.fd(); }

 private:
  Wakeup wakeup_;
  std::thread thread_;
};

}  // namespace keysentry

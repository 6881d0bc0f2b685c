#include "procfs.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>

namespace keysentry {

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = other.release();
  }
  return *this;
}

void Fd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Wakeup::Wakeup() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!fd_.valid()) throw std::system_error(errno, std::generic_category(), "eventfd");
}

void Wakeup::signal() {
  const uint64_t one = 1;
  ssize_t n = ::write(fd_.get(), &one, sizeof one);
  (void)n;  // EAGAIN only when already signalled
}

void Wakeup::clear() {
  uint64_t value;
  ssize_t n = ::read(fd_.get(), &value, sizeof value);
  (void)n;
}

std::string errnoText(int err) { return std::strerror(err); }

DatagramReader::DatagramReader(size_t count, size_t size)
    : count_(count), size_(size), buffer_(new char[count * size]), iov_(count), headers_(count) {
  for (size_t i = 0; i < count; ++i) {
    iov_[i] = iovec{buffer_.get() + i * size, size};
    headers_[i] = mmsghdr{};
    headers_[i].msg_hdr.msg_iov = &iov_[i];
    headers_[i].msg_hdr.msg_iovlen = 1;
  }
}

int DatagramReader::receive(int fd) {
  for (;;) {
    const int n = ::recvmmsg(fd, headers_.data(), static_cast<unsigned>(count_), MSG_DONTWAIT, nullptr);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return -1;
  }
}

void setReceiveBuffer(int fd, int bytes) {
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  }
}

namespace linux_proc {

namespace {

std::string procPath(pid_t pid, const char* leaf) { return "/proc/" + std::to_string(pid) + "/" + leaf; }

std::string readLink(const std::string& path) {
  char buf[4096];
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  if (n <= 0) return std::string();
  return std::string(buf, static_cast<size_t>(n));
}

// Reads up to `cap` bytes; false when the file cannot be opened or read.
bool readFile(const std::string& path, std::string& out, size_t cap, bool& truncated) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return false;
  out.clear();
  truncated = false;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) return true;
    const size_t room = cap - out.size();
    if (static_cast<size_t>(n) > room) {
      out.append(buf, room);
      truncated = true;
      return true;
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

int32_t firstNumberAfter(const std::string& text, const char* key) {
  const size_t at = text.find(key);
  if (at == std::string::npos) return -1;
  const char* p = text.c_str() + at + std::strlen(key);
  char* end = nullptr;
  const long v = std::strtol(p, &end, 10);
  return end == p ? -1 : static_cast<int32_t>(v);
}

// "Uid:\t0\t0\t0\t0": real, effective, saved, fs.
int32_t secondNumberAfter(const std::string& text, const char* key) {
  const size_t at = text.find(key);
  if (at == std::string::npos) return -1;
  const char* p = text.c_str() + at + std::strlen(key);
  char* end = nullptr;
  std::strtol(p, &end, 10);
  if (end == p) return -1;
  const char* q = end;
  const long v = std::strtol(q, &end, 10);
  return end == q ? -1 : static_cast<int32_t>(v);
}

}  // namespace

std::string executable(pid_t pid) { return readLink(procPath(pid, "exe")); }
std::string cwd(pid_t pid) { return readLink(procPath(pid, "cwd")); }

bool status(pid_t pid, Status& out) {
  std::string text;
  bool truncated = false;
  if (!readFile(procPath(pid, "status"), text, 16384, truncated)) return false;
  out.ppid = firstNumberAfter(text, "\nPPid:");
  out.uid = firstNumberAfter(text, "\nUid:");
  out.euid = secondNumberAfter(text, "\nUid:");
  out.gid = firstNumberAfter(text, "\nGid:");
  return out.ppid >= 0;
}

bool cmdline(pid_t pid, std::vector<std::string>& args, bool& truncated) {
  std::string raw;
  if (!readFile(procPath(pid, "cmdline"), raw, kMaxArgBytes, truncated) || raw.empty()) return false;
  args.clear();
  size_t start = 0;
  while (start < raw.size() && args.size() < kMaxArgs) {
    size_t end = raw.find('\0', start);
    if (end == std::string::npos) end = raw.size();
    args.emplace_back(raw, start, end - start);
    start = end + 1;
  }
  if (start < raw.size()) truncated = true;
  return true;
}

const std::string& ExecutableCache::executable(pid_t pid) {
  const auto known = images_.find(pid);
  if (known != images_.end()) return known->second;
  std::string image = linux_proc::executable(pid);
  if (image.empty()) return unreadable_;
  if (images_.size() >= kMaxEntries) images_.clear();
  return images_.emplace(pid, std::move(image)).first->second;
}

uint64_t wallClockNs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

}  // namespace linux_proc
}  // namespace keysentry

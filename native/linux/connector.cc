// Linux backend #2 (fallback): the netlink process connector reports fork, exec and exit
// of every process, but only pids; argv, image, cwd and ids are read from /proc when the
// event arrives. A process that is gone by then has its argv marked incomplete.
// Beside audit, the same socket (forks and exits only) is a LifecycleFeed that the audit
// backend's thread reads: no thread of its own.
#include <linux/cn_proc.h>
#include <arpa/inet.h>
#include <linux/connector.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>

#include "linux_backends.h"
#include "procfs.h"

namespace keysentry {
namespace {

uint64_t clockNs(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// The connector socket: opened, filtered and subscribed by open(), read by drain().
class ConnectorReader final : public LifecycleFeed {
 public:
  ConnectorReader(const BackendOptions& options, bool with_execs) : self_pid_(options.self_pid), with_execs_(with_execs) {}
  ~ConnectorReader() override { close(); }

  // Throws BackendError when the connector is unavailable.
  void open(RecordSink& sink) {
    sink_ = &sink;
    if (::geteuid() != 0) {
      throw BackendError("EPERM", "the process connector backend needs root (CAP_NET_ADMIN); run keysentry as root");
    }
    sock_ = Fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR));
    if (!sock_.valid()) {
      throw BackendError("ENOCONNECTOR", "this kernel has no netlink connector (CONFIG_CONNECTOR): " + errnoText(errno));
    }
    // Beside audit the socket is read at most every LifecycleFeed::kBatching: it holds what
    // comes meanwhile (some 10,000 events); beyond that ENOBUFS counts a source loss.
    setReceiveBuffer(sock_.get(), 8 << 20);
    sockaddr_nl addr{};
    addr.nl_family = AF_NETLINK;
    addr.nl_groups = CN_IDX_PROC;
    if (::bind(sock_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      const int err = errno;
      sock_.reset();
      throw BackendError(err == EPERM ? "EPERM" : "ENOCONNECTOR", "cannot join the process connector group: " + errnoText(err));
    }
    filterInKernel();
    // The kernel stamps events with CLOCK_MONOTONIC; records carry wall-clock time.
    wall_minus_mono_ = static_cast<int64_t>(linux_proc::wallClockNs()) - static_cast<int64_t>(clockNs(CLOCK_MONOTONIC));
    if (!sendOp(PROC_CN_MCAST_LISTEN) || !awaitListenAck()) {
      sock_.reset();
      throw BackendError("ENOCONNECTOR",
                         "the process connector did not answer (kernel without CONFIG_PROC_EVENTS, or not the initial "
                         "network namespace)");
    }
  }

  void close() {
    if (!sock_.valid()) return;
    sendOp(PROC_CN_MCAST_IGNORE);
    sock_.reset();
  }

  int fd() const override { return sock_.get(); }

  size_t drain(std::vector<ProcessRecord>& exits, linux_proc::ExecutableCache& images) override {
    held_exits_ = &exits;
    images_ = &images;
    const size_t datagrams = drainAll();
    held_exits_ = nullptr;
    images_ = nullptr;
    return datagrams;
  }

  // Reads and handles every queued event.
  size_t drainAll() {
    size_t datagrams = 0;
    for (;;) {
      const int got = datagrams_.receive(sock_.get());
      if (got < 0) {
        if (errno == ENOBUFS) {  // the socket overflowed: events lost, count unknown
          sink_->reportSourceLoss(1);
          if (images_ != nullptr) images_->clear();  // an exit among them may have freed a pid
          continue;
        }
        return datagrams;
      }
      for (int i = 0; i < got; ++i) {
        forEachEvent(datagrams_.data(i), datagrams_.length(i), [this](const proc_event& ev) { handle(ev); });
      }
      datagrams += static_cast<size_t>(got);
      if (static_cast<size_t>(got) < datagrams_.capacity()) return datagrams;
    }
  }

 private:
  bool sendOp(proc_cn_mcast_op op) {
    alignas(nlmsghdr) uint8_t msg[NLMSG_LENGTH(sizeof(cn_msg) + sizeof(proc_cn_mcast_op))] = {};
    auto* nlh = reinterpret_cast<nlmsghdr*>(msg);
    nlh->nlmsg_len = sizeof msg;
    nlh->nlmsg_type = NLMSG_DONE;
    auto* cn = static_cast<cn_msg*>(NLMSG_DATA(nlh));
    cn->id.idx = CN_IDX_PROC;
    cn->id.val = CN_VAL_PROC;
    cn->len = sizeof(proc_cn_mcast_op);
    std::memcpy(cn->data, &op, sizeof op);
    return ::send(sock_.get(), msg, sizeof msg, 0) == static_cast<ssize_t>(sizeof msg);
  }

  // Leaves in the kernel the events handle() ignores: threads' forks and exits, execs when
  // audit reports them, the other kinds (uid, comm, ptrace, ...). Each would wake the capture
  // thread for nothing, and the machine's threads come and go far more often than processes.
  // handle() checks the same, so a kernel that refuses the filter costs only those wake-ups.
  void filterInKernel() {
    constexpr uint32_t kEvent = NLMSG_HDRLEN + offsetof(cn_msg, data);
    constexpr uint32_t kWhat = kEvent + offsetof(proc_event, what);
    constexpr uint32_t kForkPid = kEvent + offsetof(proc_event, event_data.fork.child_pid);
    constexpr uint32_t kForkTgid = kEvent + offsetof(proc_event, event_data.fork.child_tgid);
    constexpr uint32_t kExitPid = kEvent + offsetof(proc_event, event_data.exit.process_pid);
    constexpr uint32_t kExitTgid = kEvent + offsetof(proc_event, event_data.exit.process_tgid);
    // Absolute loads read big-endian: the event kinds are compared byte-swapped, pids only with each other.
    const auto kind = [](uint32_t event) { return static_cast<uint32_t>(htonl(event)); };
    constexpr uint32_t kAccept = 0xffffffff;
    const uint8_t exec_jump = with_execs_ ? 10 : 11;  // to ACCEPT or DROP
    sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kWhat),                                   // 0
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kind(proc_event::PROC_EVENT_NONE), 13, 0),  // 1: the LISTEN ack
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kind(proc_event::PROC_EVENT_FORK), 2, 0),   // 2
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kind(proc_event::PROC_EVENT_EXIT), 6, 0),   // 3
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kind(proc_event::PROC_EVENT_EXEC), exec_jump, 11),  // 4
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kForkTgid),                               // 5: a fork
        BPF_STMT(BPF_ST, 0),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kForkPid),
        BPF_STMT(BPF_LDX | BPF_W | BPF_MEM, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_X, 0, 5, 6),                                // 9: not a thread
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kExitTgid),                               // 10: an exit
        BPF_STMT(BPF_ST, 0),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kExitPid),
        BPF_STMT(BPF_LDX | BPF_W | BPF_MEM, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_X, 0, 0, 1),                                // 14: not a thread
        BPF_STMT(BPF_RET | BPF_K, kAccept),                                          // 15: ACCEPT
        BPF_STMT(BPF_RET | BPF_K, 0),                                                // 16: DROP
    };
    sock_fprog program{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
    ::setsockopt(sock_.get(), SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program);
  }

  // The kernel answers LISTEN with a PROC_EVENT_NONE whose ack.err is 0.
  bool awaitListenAck() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{sock_.get(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      const int got = datagrams_.receive(sock_.get());
      bool acked = false;
      for (int i = 0; i < got; ++i) {
        forEachEvent(datagrams_.data(i), datagrams_.length(i), [&](const proc_event& ev) {
          if (ev.what == proc_event::PROC_EVENT_NONE) acked = ev.event_data.ack.err == 0;
          else handle(ev);
        });
      }
      if (acked) return true;
    }
  }

  template <typename F>
  static void forEachEvent(const char* bytes, size_t len, F&& fn) {
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(bytes); NLMSG_OK(nlh, len); nlh = NLMSG_NEXT(nlh, len)) {
      if (nlh->nlmsg_type == NLMSG_ERROR || nlh->nlmsg_type == NLMSG_NOOP) continue;
      const auto* cn = static_cast<const cn_msg*>(NLMSG_DATA(nlh));
      if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(cn_msg) + sizeof(proc_event))) continue;
      if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC) continue;
      proc_event ev;
      std::memcpy(&ev, cn->data, sizeof ev);
      fn(ev);
    }
  }

  void handle(const proc_event& ev) {
    ProcessRecord r;  // forks and exits carry no strings; an exec's come from /proc
    r.time_ns = static_cast<uint64_t>(static_cast<int64_t>(ev.timestamp_ns) + wall_minus_mono_);
    switch (ev.what) {
      case proc_event::PROC_EVENT_FORK: {
        const auto& f = ev.event_data.fork;
        if (f.child_pid != f.child_tgid) return;  // a new thread, not a process
        r.kind = RecordKind::Fork;
        r.subject.pid = f.child_tgid;
        r.parent.pid = f.parent_tgid;
        // Left empty: the child runs its parent's image. /proc would already show the image
        // of an exec that followed the fork.

        break;
      }
      case proc_event::PROC_EVENT_EXEC: {
        const pid_t pid = ev.event_data.exec.process_tgid;
        if (pid == self_pid_ || !with_execs_) return;
        r.kind = RecordKind::Exec;
        r.subject.pid = pid;
        fillExec(r, pid);
        break;
      }
      case proc_event::PROC_EVENT_EXIT: {
        const auto& e = ev.event_data.exit;
        if (e.process_pid != e.process_tgid) return;
        r.kind = RecordKind::Exit;
        r.subject.pid = e.process_tgid;
        r.exit_status = static_cast<int32_t>(e.exit_code);
        break;
      }
      default:
        return;
    }
    if (images_ != nullptr) images_->forget(r.subject.pid);  // ended, or a new process on a pid
    if (held_exits_ != nullptr) {
      if (r.kind == RecordKind::Exit) {
        // Bounded, so that the search below stays short whatever the fork rate.
        if (held_exits_->size() >= kMaxHeldExits) {
          for (const ProcessRecord& exit : *held_exits_) sink_->push(exit);
          held_exits_->clear();
        }
        held_exits_->push_back(r);
        return;
      }
      for (auto it = held_exits_->begin(); it != held_exits_->end(); ++it) {
        if (it->subject.pid != r.subject.pid) continue;
        sink_->push(*it);  // the pid was reused: its old process's end goes first
        held_exits_->erase(it);
        break;
      }
    }
    sink_->push(r);
  }

  static void fillExec(ProcessRecord& r, pid_t pid) {
    bool truncated = false;
    const bool have_args = linux_proc::cmdline(pid, r.args, truncated);
    r.args_complete = have_args && !truncated;
    r.executable = linux_proc::executable(pid);
    r.has_cwd = true;
    r.cwd = linux_proc::cwd(pid);
    if (r.cwd.empty()) r.has_cwd = false;
    linux_proc::Status st;
    if (linux_proc::status(pid, st)) {
      r.parent.pid = st.ppid;
      r.uid = st.uid;
      r.euid = st.euid;
      r.gid = st.gid;
      if (st.ppid > 0) r.parent_executable = linux_proc::executable(st.ppid);
    }
  }

  const int32_t self_pid_;
  const bool with_execs_;
  RecordSink* sink_ = nullptr;
  static constexpr size_t kMaxHeldExits = 256;
  std::vector<ProcessRecord>* held_exits_ = nullptr;  // set during drain()
  linux_proc::ExecutableCache* images_ = nullptr;     // set during drain()
  Fd sock_;
  int64_t wall_minus_mono_ = 0;
  DatagramReader datagrams_{32, 4096};  // a datagram is one event (some 100 bytes)
};

// The fallback backend: the connector alone, execs included, on a thread of its own. Execs
// are what alerts wait on, so every event is read as it comes.
class ConnectorBackend final : public Backend {
 public:
  explicit ConnectorBackend(const BackendOptions& options) : reader_(options, true) {}
  ~ConnectorBackend() override { stop(); }

  const char* name() const override { return "connector"; }

  void start(RecordSink& sink) override {
    reader_.open(sink);
    capture_.start("ks-connector", [this] { captureLoop(); });
  }

  void stop() override {
    if (capture_.stop()) reader_.close();
  }

 private:
  void captureLoop() {
    for (;;) {
      pollfd fds[2] = {{capture_.wakeFd(), POLLIN, 0}, {reader_.fd(), POLLIN, 0}};
      const int ready = ::poll(fds, 2, -1);
      if (ready < 0 && errno != EINTR) break;
      if (fds[0].revents != 0) break;
      if (fds[1].revents != 0) reader_.drainAll();
    }
  }

  ConnectorReader reader_;
  CaptureThread capture_;
};

}  // namespace

std::unique_ptr<Backend> createConnectorBackend(const BackendOptions& options) {
  return std::make_unique<ConnectorBackend>(options);
}

std::unique_ptr<LifecycleFeed> openLifecycleFeed(const BackendOptions& options, RecordSink& sink) {
  auto reader = std::make_unique<ConnectorReader>(options, false);
  reader->open(sink);
  return reader;
}

}  // namespace keysentry

// Linux backend #1: the kernel audit netlink interface. It reports the full argv of every
// execve/execveat, even of processes that are gone a millisecond later, because the kernel
// copies argv into the EXECVE record at syscall exit.
//
// Coexistence (docs/native.md): with no audit daemon we register as the audit daemon
// (unicast); when another daemon (auditd) owns that channel we read the same records from
// the AUDIT_NLGRP_READLOG multicast group and leave the daemon alone. Either way we add our
// own execve rules (key "keysentry-<pid>-<n>": each source owns and removes only its own) and
// undo every other setting we changed on stop, unless another keysentry still reads: then
// the settings stay, and the one that takes over as daemon restores them at its stop.
// A watchdog puts back, and reports, what someone else undid while we run.
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "audit_parse.h"
#include "audit_rules.h"
#include "linux_backends.h"
#include "procfs.h"

namespace keysentry {
namespace {

constexpr const char* kSavedSettingsFile = "/run/keysentry-audit.saved";
constexpr uint32_t kBacklogWhileRunning = 8192;
constexpr int kReceiveBuffer = 16 << 20;
// While records of an exec wait for the rest (expiry after Assembler::Limits::timeout).
constexpr auto kHousekeeping = std::chrono::milliseconds(100);
// Status (lost counter, enabled, daemon) and our rules are checked this often: a rule
// removed by someone else (auditctl -D, another agent, an auditd reload) is back within it.
constexpr auto kWatchdog = std::chrono::seconds(1);
// After taking over as daemon, the kernel may hand us records it held while no daemon
// was registered, which the multicast group already gave us: those are dropped for this long.
constexpr auto kTakeoverReplay = std::chrono::seconds(10);

struct ExecRule {
  uint32_t arch;
  int execve;
  int execveat;
  bool optional;  // the compat (32-bit) ABI may be absent from the kernel
};

std::vector<ExecRule> execRules() {
#if defined(__x86_64__)
  return {{AUDIT_ARCH_X86_64, 59, 322, false}, {AUDIT_ARCH_I386, 11, 358, true}};
#elif defined(__aarch64__)
  return {{AUDIT_ARCH_AARCH64, 221, 281, false}, {AUDIT_ARCH_ARM, 11, 387, true}};
#else
#error "audit backend: add this architecture's execve/execveat syscall numbers"
#endif
}

std::vector<uint8_t> ruleData(const ExecRule& rule, const std::string& key) {
  const size_t key_len = key.size();
  std::vector<uint8_t> data(sizeof(audit_rule_data) + key_len, 0);
  auto* r = reinterpret_cast<audit_rule_data*>(data.data());
  r->flags = AUDIT_FILTER_EXIT;
  r->action = AUDIT_ALWAYS;
  for (int nr : {rule.execve, rule.execveat}) r->mask[AUDIT_WORD(nr)] |= AUDIT_BIT(nr);
  r->field_count = 3;
  r->fields[0] = AUDIT_ARCH;
  r->values[0] = rule.arch;
  r->fieldflags[0] = AUDIT_EQUAL;
  // Failed execs (execvp() tries each PATH directory: a dozen ENOENT under npm's PATH) are of
  // no use to us: the kernel neither writes nor sends their records.
  r->fields[1] = AUDIT_SUCCESS;
  r->values[1] = 1;
  r->fieldflags[1] = AUDIT_EQUAL;
  r->fields[2] = AUDIT_FILTERKEY;
  r->values[2] = static_cast<uint32_t>(key_len);
  r->fieldflags[2] = AUDIT_EQUAL;
  r->buflen = static_cast<uint32_t>(key_len);
  std::memcpy(r->buf, key.data(), key_len);
  return data;
}

// Leaves in the kernel every event record the assembler does not need: of an exec's eight
// (SYSCALL, EXECVE, CWD, two PATH, BPRM_FCAPS, PROCTITLE, EOE) only three reach the socket, and
// none of the machine's other records (user messages, AVCs, other rules' PATHs): fewer datagrams
// queued, copied and parsed, and fewer wake-ups. The EOE is left there too: the CWD before it
// ends the exec (Assembler::add), and kauditd often sent the EOE after the thread had read the
// rest, a wake-up of its own for a record that carries nothing. Replies (types below
// AUDIT_FIRST_USER_MSG) pass.
// A kernel that refuses the filter costs only those datagrams: Assembler::add skips them too.
void filterRecordsInKernel(int fd) {
  constexpr uint32_t kType = offsetof(nlmsghdr, nlmsg_type);
  // Byte loads, put together in host order: a halfword load would read it big-endian.
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  constexpr uint32_t kTypeLow = kType, kTypeHigh = kType + 1;
#else
  constexpr uint32_t kTypeLow = kType + 1, kTypeHigh = kType;
#endif
  constexpr uint32_t kAccept = 0xffffffff;
  sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, kTypeHigh),                    // 0
      BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 8),                           // 1
      BPF_STMT(BPF_MISC | BPF_TAX, 0),                                  // 2
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, kTypeLow),                     // 3
      BPF_STMT(BPF_ALU | BPF_OR | BPF_X, 0),                            // 4: A = nlmsg_type
      BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, AUDIT_FIRST_USER_MSG, 0, 4),  // 5: a reply: ACCEPT
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, audit::kSyscall, 3, 0),       // 6
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, audit::kExecve, 2, 0),        // 7
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, audit::kCwd, 1, 0),           // 8
      BPF_STMT(BPF_RET | BPF_K, 0),                                     // 9: DROP
      BPF_STMT(BPF_RET | BPF_K, kAccept),                               // 10: ACCEPT
  };
  sock_fprog program{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
  ::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program);
}

bool processAlive(int32_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

// A rule as AUDIT_LIST_RULES returns it: the bytes (AUDIT_DEL_RULE takes them back as
// they are), its key and its arch.
struct ListedRule {
  std::vector<uint8_t> data;
  std::string key;
  uint32_t arch = 0;
};

class AuditBackend final : public Backend {
 public:
  AuditBackend(const BackendOptions& options, LifecycleFeed* lifecycle)
      : self_pid_(options.self_pid), lifecycle_(lifecycle), rule_key_(audit_rules::newKey(static_cast<int32_t>(::getpid()))) {}
  ~AuditBackend() override { stop(); }

  const char* name() const override { return "audit"; }

  void start(RecordSink& sink) override {
    sink_ = &sink;
    sink_muted_ = false;
    try {
      setUp();
    } catch (...) {
      undo();
      throw;
    }
    capture_.start("ks-audit", [this] { captureLoop(); });
  }

  void stop() override {
    if (capture_.stop()) undo();
  }

 private:
  // ---- control channel ----
  int openSocket(uint32_t groups) {
    Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT));
    if (!fd.valid()) {
      if (errno == EPROTONOSUPPORT || errno == EAFNOSUPPORT) {
        throw BackendError("ENOAUDIT",
                           "this kernel has no audit support (CONFIG_AUDIT is off); use the connector backend "
                           "(--source connector)");
      }
      throw BackendError("EAUDIT", "cannot open the audit netlink socket: " + errnoText(errno));
    }
    setReceiveBuffer(fd.get(), kReceiveBuffer);
    filterRecordsInKernel(fd.get());  // before bind(): no record comes unfiltered
    sockaddr_nl addr{};
    addr.nl_family = AF_NETLINK;
    addr.nl_groups = groups;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      const int err = errno;
      if (err == EPERM) {
        throw BackendError("EPERM",
                           "reading the audit multicast group needs CAP_AUDIT_READ (run keysentry as root)");
      }
      throw BackendError("EAUDIT", "cannot bind the audit netlink socket: " + errnoText(err));
    }
    return fd.release();
  }

  // Sends one request and waits for its acknowledgement; records that arrive meanwhile are
  // processed as usual. Returns 0 or a positive errno.
  // `reply_type`: wait for that reply instead of the acknowledgement. The kernel sends
  // audit replies from a helper thread, so an ack may overtake the reply it belongs to.
  int request(uint16_t type, const void* payload, size_t len, uint16_t reply_type = 0) {
    std::vector<uint8_t> msg(NLMSG_SPACE(len), 0);
    auto* nlh = reinterpret_cast<nlmsghdr*>(msg.data());
    nlh->nlmsg_len = static_cast<uint32_t>(NLMSG_LENGTH(len));
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = reply_type == 0 ? NLM_F_REQUEST | NLM_F_ACK : NLM_F_REQUEST;
    nlh->nlmsg_seq = ++seq_;
    std::memcpy(NLMSG_DATA(nlh), payload, len);
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(ctl_.get(), msg.data(), nlh->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
      return errno;
    }
    awaiting_seq_ = seq_;
    awaiting_reply_ = reply_type;
    ack_result_ = -1;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (ack_result_ < 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return ETIMEDOUT;
      pollfd p{ctl_.get(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) > 0) drain(ctl_.get());
    }
    awaiting_seq_ = 0;
    return ack_result_;
  }

  int getStatus(audit_status& out) {
    status_reply_ = nullptr;
    audit_status reply{};
    status_reply_ = &reply;
    const int err = request(AUDIT_GET, nullptr, 0, AUDIT_GET);
    status_reply_ = nullptr;
    out = reply;
    return err;
  }

  int setStatus(uint32_t mask, const audit_status& values) {
    audit_status s = values;
    s.mask = mask;
    return request(AUDIT_SET, &s, sizeof s);
  }

  void setUp() {
    if (::geteuid() != 0) {
      throw BackendError("EPERM",
                         "the audit backend needs root (CAP_AUDIT_CONTROL, CAP_AUDIT_READ); run keysentry as root");
    }
    ctl_ = Fd(openSocket(0));
    audit_status status{};
    if (int err = getStatus(status)) {
      if (err == EPERM || err == ECONNREFUSED) {
        throw BackendError("EPERM",
                           "the kernel refused audit control (" + errnoText(err) +
                               "): audit is only served to root in the initial user and network namespace, not "
                               "inside most containers; use --source connector there");
      }
      throw BackendError("EAUDIT", "audit status request failed: " + errnoText(err));
    }
    if (status.enabled == 2) {
      throw BackendError("EAUDITLOCKED",
                         "the audit configuration is locked (auditctl -e 2): no rule can be added until reboot. Add "
                         "'-a always,exit -F arch=b64 -S execve,execveat -k keysentry' (and arch=b32) to the audit "
                         "rules before the lock, or use --source connector");
    }
    lost_baseline_ = status.lost;

    const bool other_daemon = status.pid != 0 && static_cast<pid_t>(status.pid) != ::getpid() && processAlive(static_cast<int32_t>(status.pid));
    int err = other_daemon ? EEXIST : becomeDaemon(status);
    if (err == EEXIST) {
      events_ = Fd(openSocket(1u << (AUDIT_NLGRP_READLOG - 1)));
    } else if (err != 0) {
      throw BackendError("EAUDIT", "cannot register as the audit daemon: " + errnoText(err));
    }
    if (status.enabled == 0) {
      if ((err = enable())) throw BackendError("EAUDIT", "cannot enable audit: " + errnoText(err));
    }
    removeStaleRules();
    for (const ExecRule& rule : execRules()) {
      const std::vector<uint8_t> data = ruleData(rule, rule_key_);
      err = request(AUDIT_ADD_RULE, data.data(), data.size());
      // EEXIST: a killed agent with our pid left it: ours now, removed at stop.
      if (err == 0 || err == EEXIST) {
        installed_.push_back(rule);
      } else if (!rule.optional) {
        throw BackendError("EAUDIT", "cannot add the execve audit rule: " + errnoText(err));
      }
    }
  }

  // Registers as the audit daemon and takes on its settings: 0, EEXIST when another daemon
  // holds the channel, or another errno.
  int becomeDaemon(const audit_status& status) {
    audit_status s{};
    s.pid = static_cast<uint32_t>(::getpid());
    if (int err = setStatus(AUDIT_STATUS_PID, s)) return err;
    registered_ = true;
    uint32_t original_enabled = status.enabled;
    uint32_t original_backlog = status.backlog_limit;
    // An agent killed before it could restore, or one that stopped while we read beside it,
    // left its changes and the originals in the saved file: those are the system's settings.
    loadSavedSettings(original_enabled, original_backlog);
    // As the daemon, records wait in the kernel's backlog while we read; the default (64)
    // overflows in a burst of execs.
    if (original_backlog < kBacklogWhileRunning) restore_backlog_ = original_backlog;
    if (original_enabled == 0) restore_enabled_ = true;
    // Saved before anything changes, so that a crash at any point can be undone.
    if (restore_backlog_ >= 0 || restore_enabled_) saveSettings(original_enabled, original_backlog);
    if (status.backlog_limit < kBacklogWhileRunning) {
      audit_status b{};
      b.backlog_limit = kBacklogWhileRunning;
      setStatus(AUDIT_STATUS_BACKLOG_LIMIT, b);
    }
    return 0;
  }

  int enable() {
    audit_status s{};
    s.enabled = 1;
    const int err = setStatus(AUDIT_STATUS_ENABLED, s);
    if (err == 0) restore_enabled_ = true;
    return err;
  }

  int listRules(std::vector<ListedRule>& out) {
    out.clear();
    listing_ = &out;
    const int err = request(AUDIT_LIST_RULES, nullptr, 0, NLMSG_DONE);
    listing_ = nullptr;
    return err;
  }

  // Rules of keysentry agents that are gone (SIGKILL): nobody else will remove them. The
  // bare "keysentry" key of older agents is removed only by the daemon, as those did: beside
  // another daemon it may be a running older reader's.
  void removeStaleRules() {
    std::vector<ListedRule> rules;
    if (listRules(rules) != 0) return;
    for (const ListedRule& rule : rules) {
      int32_t owner = 0;
      if (!audit_rules::isKeysentryKey(rule.key, owner)) continue;
      if (rule.key == rule_key_) {
        // Before we install ours, a rule of our key is a killed agent's with our pid (of
        // another version, or AUDIT_ADD_RULE would only say EEXIST).
        if (installed_.empty()) request(AUDIT_DEL_RULE, rule.data.data(), rule.data.size());
        continue;
      }
      if (owner == 0 ? registered_ : !processAlive(owner)) request(AUDIT_DEL_RULE, rule.data.data(), rule.data.size());
    }
  }

  // Whether another running keysentry has rules installed, i.e. still reads audit records.
  bool otherReaderRunning() {
    std::vector<ListedRule> rules;
    if (listRules(rules) != 0) return false;
    for (const ListedRule& rule : rules) {
      int32_t owner = 0;
      if (audit_rules::isKeysentryKey(rule.key, owner) && owner > 0 && rule.key != rule_key_ && processAlive(owner)) return true;
    }
    return false;
  }

  // The settings keysentry changes as the audit daemon, kept in /run (cleared at boot, as
  // the kernel's audit settings are) until a clean stop has restored them.
  static bool loadSavedSettings(uint32_t& enabled, uint32_t& backlog) {
    Fd fd(::open(kSavedSettingsFile, O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd.valid()) return false;
    char text[128] = {};
    const ssize_t n = ::read(fd.get(), text, sizeof text - 1);
    unsigned e = 0, b = 0;
    if (n > 0 && std::sscanf(text, "enabled=%u backlog_limit=%u", &e, &b) == 2 && e <= 1 && b > 0) {
      enabled = e;
      backlog = b;
      return true;
    }
    return false;
  }

  static void saveSettings(uint32_t enabled, uint32_t backlog) {
    const std::string tmp = std::string(kSavedSettingsFile) + ".new";
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd.valid()) return;  // best effort: without it only a crash's changes would stay
    const std::string text = "enabled=" + std::to_string(enabled) + " backlog_limit=" + std::to_string(backlog) + "\n";
    if (::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size())) ::rename(tmp.c_str(), kSavedSettingsFile);
    else ::unlink(tmp.c_str());
  }

  void undo() {
    if (!ctl_.valid()) return;
    awaiting_seq_ = 0;
    sink_muted_ = true;  // stop() promises no push() after it returns
    for (const ExecRule& rule : installed_) {
      const std::vector<uint8_t> data = ruleData(rule, rule_key_);
      request(AUDIT_DEL_RULE, data.data(), data.size());
    }
    installed_.clear();
    // Another keysentry reads beside us: audit must stay on for it. As the daemon, the saved
    // file keeps the originals; the reader takes over as daemon and restores them at its stop.
    const bool hand_over = otherReaderRunning();
    // The last reader, stopping before it took over from a daemon that handed over to it.
    if (!registered_ && !hand_over) restoreHandedOver();
    if (hand_over) {
      restore_backlog_ = -1;
      restore_enabled_ = false;
    }
    if (restore_backlog_ >= 0) {
      audit_status s{};
      s.backlog_limit = static_cast<uint32_t>(restore_backlog_);
      setStatus(AUDIT_STATUS_BACKLOG_LIMIT, s);
      restore_backlog_ = -1;
    }
    if (restore_enabled_) {
      audit_status s{};
      s.enabled = 0;
      setStatus(AUDIT_STATUS_ENABLED, s);
      restore_enabled_ = false;
    }
    if (registered_) {
      if (!hand_over) ::unlink(kSavedSettingsFile);
      audit_status s{};
      s.pid = 0;
      setStatus(AUDIT_STATUS_PID, s);
      registered_ = false;
    }
    events_.reset();
    ctl_.reset();
  }

  // Restores the settings a stopped keysentry daemon left on for us (they are in the saved
  // file), unless a daemon runs now: it owns the settings.
  void restoreHandedOver() {
    audit_status status{};
    if (getStatus(status) != 0 || (status.pid != 0 && processAlive(static_cast<int32_t>(status.pid)))) return;
    uint32_t enabled = status.enabled;
    uint32_t backlog = status.backlog_limit;
    if (!loadSavedSettings(enabled, backlog)) return;
    audit_status s{};
    s.backlog_limit = backlog;
    setStatus(AUDIT_STATUS_BACKLOG_LIMIT, s);
    if (enabled == 0 && status.enabled == 1) {
      s.enabled = 0;
      setStatus(AUDIT_STATUS_ENABLED, s);
    }
    ::unlink(kSavedSettingsFile);
  }

  // ---- capture ----
  // One thread reads the audit records and the lifecycle feed. It sleeps until a record
  // comes, the watchdog is due, an incomplete exec needs expiring, or forks and exits read
  // in the last LifecycleFeed::kBatching may have company to read: between those reads
  // the feed's socket is left out of the poll, so forks and exits wake nothing.
  void captureLoop() {
    using Clock = std::chrono::steady_clock;
    auto next_housekeeping = Clock::now() + kHousekeeping;
    auto next_watchdog = Clock::now() + kWatchdog;
    for (;;) {
      // Records come on ctl_ as the daemon, on events_ as a multicast reader (until a takeover).
      const int event_fd = events_.valid() ? events_.get() : ctl_.get();
      pollfd fds[4] = {{capture_.wakeFd(), POLLIN, 0}, {event_fd, POLLIN, 0}};
      nfds_t n = 2;
      const nfds_t ctl_index = events_.valid() ? n++ : 0;
      if (ctl_index != 0) fds[ctl_index] = {ctl_.get(), POLLIN, 0};
      const nfds_t lifecycle_index = lifecycle_ != nullptr && !lifecycle_read_recently_ ? n++ : 0;
      if (lifecycle_index != 0) fds[lifecycle_index] = {lifecycle_->fd(), POLLIN, 0};
      Clock::time_point wake_at = next_watchdog;
      if (!assembler_.idle()) wake_at = std::min(wake_at, next_housekeeping);
      if (lifecycle_read_recently_) wake_at = std::min(wake_at, lifecycle_next_read_);
      const auto wait = std::chrono::ceil<std::chrono::milliseconds>(wake_at - Clock::now());
      const int ready = ::poll(fds, n, static_cast<int>(std::max<int64_t>(0, wait.count())));
      if (ready < 0 && errno != EINTR) break;
      if (fds[0].revents != 0) break;
      if (fds[1].revents != 0) drain(event_fd);
      if (ctl_index != 0 && fds[ctl_index].revents != 0) drain(ctl_.get());
      const auto now = Clock::now();
      if (lifecycle_index != 0 && fds[lifecycle_index].revents != 0) {
        readLifecycle(now);
      } else if (lifecycle_read_recently_ && now >= lifecycle_next_read_) {
        // The exits read last time have waited a period for the execs of their processes.
        pushHeldExits();
        if (readLifecycle(now) == 0) lifecycle_read_recently_ = false;  // quiet: the next fork or exit wakes the thread
      }
      if (assembler_.idle()) {
        next_housekeeping = now + kHousekeeping;
      } else if (now >= next_housekeeping) {
        assembler_.expire(now, done_);
        emitDone();
        next_housekeeping = now + kHousekeeping;
      }
      if (now >= next_watchdog) {
        watchdog();
        next_watchdog = Clock::now() + kWatchdog;
      }
    }
    if (lifecycle_ != nullptr) pushHeldExits();  // the session, stopping, sends them with its last batch
  }

  size_t readLifecycle(std::chrono::steady_clock::time_point now) {
    const size_t datagrams = lifecycle_->drain(held_exits_, parent_images_);
    lifecycle_read_recently_ = true;
    lifecycle_next_read_ = now + LifecycleFeed::kBatching;
    return datagrams;
  }

  // Checks that capture is still in place (audit on, a daemon draining the records, our
  // rules installed) and puts back what someone else undid, reporting each repair; what it
  // cannot put back makes the capture degraded, with the reason, until it can.
  // The status reply also feeds the lost counter (handle()).
  void watchdog() {
    std::string degraded;
    try {
      degraded = checkCapture();
    } catch (const BackendError& e) {  // the multicast socket could not be reopened
      degraded = e.what();
    }
    if (!degraded.empty()) parent_images_.clear();  // execs may go unrecorded meanwhile
    sink_->reportDegraded(degraded);
  }

  // What keeps the capture degraded, or empty.
  std::string checkCapture() {
    audit_status status{};
    if (int err = getStatus(status)) return "cannot read the audit status: " + errnoText(err);
    std::string degraded;
    const auto self = static_cast<uint32_t>(::getpid());
    if (registered_ && status.pid != self) {
      registered_ = false;  // the kernel dropped us as daemon; register again below
      if (!events_.valid()) events_ = Fd(openSocket(1u << (AUDIT_NLGRP_READLOG - 1)));
    }
    if (!registered_ && (status.pid == 0 || !processAlive(static_cast<int32_t>(status.pid)))) {
      const uint32_t gone = status.pid;
      if (becomeDaemon(status) == 0) {
        // Records now come to us directly; the multicast copy would double them.
        events_.reset();
        replay_floor_ = emitted_serial_max_;
        replay_until_ = std::chrono::steady_clock::now() + kTakeoverReplay;
        removeStaleRules();
        report(gone == 0 ? "no audit daemon was registered; keysentry took over as the audit daemon"
                         : "the audit daemon (pid " + std::to_string(gone) + ") is gone; keysentry took over as the audit daemon");
      }
    }
    if (status.enabled == 0) {
      if (int err = enable()) degraded = "audit is disabled and cannot be enabled: " + errnoText(err);
      else report("audit was disabled by someone else; re-enabled");
    }
    std::vector<ListedRule> rules;
    if (int err = listRules(rules)) {
      degraded = "cannot list the audit rules: " + errnoText(err);
    } else {
      for (const ExecRule& rule : installed_) {
        bool present = false;
        for (const ListedRule& listed : rules) present = present || (listed.key == rule_key_ && listed.arch == rule.arch);
        if (present) continue;
        const std::vector<uint8_t> data = ruleData(rule, rule_key_);
        if (int err = request(AUDIT_ADD_RULE, data.data(), data.size())) {
          degraded = "audit rule removed by someone else and cannot be re-installed: " + errnoText(err) +
                     (status.enabled == 2 ? " (the audit configuration is locked: auditctl -e 2)" : "");
        } else {
          report("audit rule removed by someone else; re-installed");
        }
      }
    }
    return degraded;
  }

  void report(const std::string& what) {
    parent_images_.clear();  // the execs of the time it took to repair were not recorded
    if (sink_ != nullptr && !sink_muted_) sink_->reportRepair(what);
  }

  // The lost records may have held an exec of a parent whose image is cached.
  void reportLoss(uint64_t events) {
    parent_images_.clear();
    if (sink_ != nullptr && !sink_muted_) sink_->reportSourceLoss(events);
  }

  void drain(int fd) {
    for (;;) {
      const int got = datagrams_.receive(fd);
      if (got < 0) {
        // The socket overflowed: the kernel dropped records we will never see, count unknown.
        if (errno == ENOBUFS) {
          reportLoss(1);
          continue;
        }
        break;
      }
      for (int i = 0; i < got; ++i) handleDatagram(datagrams_.data(i), datagrams_.length(i));
      // Fewer than asked for: the socket was empty, and poll() tells when more comes.
      if (static_cast<size_t>(got) < datagrams_.capacity()) break;
    }
    emitDone();
  }

  void handleDatagram(const char* bytes, size_t len) {
    const auto* first = reinterpret_cast<const nlmsghdr*>(bytes);
    if (len >= NLMSG_HDRLEN && first->nlmsg_type >= AUDIT_FIRST_USER_MSG) {
      // Event records come one per datagram, and the kernel sets their nlmsg_len to the
      // payload size without the header (kept for compatibility): trust the datagram size.
      handle(first, len - NLMSG_HDRLEN);
      return;
    }
    for (const nlmsghdr* nlh = first; NLMSG_OK(nlh, len); nlh = NLMSG_NEXT(nlh, len)) {
      handle(nlh, nlh->nlmsg_len - NLMSG_HDRLEN);
    }
  }

  void handle(const nlmsghdr* nlh, size_t payload) {
    const char* data = static_cast<const char*>(NLMSG_DATA(nlh));
    if (nlh->nlmsg_type == NLMSG_ERROR) {
      if (awaiting_seq_ != 0 && nlh->nlmsg_seq == awaiting_seq_ && payload >= sizeof(nlmsgerr)) {
        const int err = -reinterpret_cast<const nlmsgerr*>(data)->error;
        // Waiting for a reply, only a failure ends the wait.
        if (awaiting_reply_ == 0 || err != 0) ack_result_ = err;
      }
      return;
    }
    if (nlh->nlmsg_type == NLMSG_DONE) {
      if (awaiting_reply_ == NLMSG_DONE && nlh->nlmsg_seq == awaiting_seq_) ack_result_ = 0;
      return;
    }
    if (nlh->nlmsg_type == AUDIT_LIST_RULES) {
      if (listing_ == nullptr || nlh->nlmsg_seq != awaiting_seq_) return;
      const auto* rule = reinterpret_cast<const audit_rule_data*>(data);
      ListedRule listed;
      listed.data.assign(data, data + payload);
      listed.key = std::string(audit_rules::filterKey(rule, payload));
      listed.arch = audit_rules::arch(rule, payload);
      listing_->push_back(std::move(listed));
      return;
    }
    if (nlh->nlmsg_type == AUDIT_GET) {
      if (payload < sizeof(audit_status)) return;
      audit_status s;
      std::memcpy(&s, data, sizeof s);
      if (status_reply_ != nullptr && awaiting_reply_ == AUDIT_GET && nlh->nlmsg_seq == awaiting_seq_) {
        *status_reply_ = s;
        ack_result_ = 0;
      }
      if (s.lost > lost_baseline_) {
        reportLoss(s.lost - lost_baseline_);
        lost_baseline_ = s.lost;
      }
      return;
    }
    // The kernel may or may not count a trailing NUL in the payload.
    size_t text_len = payload;
    while (text_len > 0 && data[text_len - 1] == '\0') --text_len;
    assembler_.add(nlh->nlmsg_type, std::string_view(data, text_len), done_);
  }

  void emitDone() {
    if (const uint64_t lost = assembler_.takeDiscarded()) reportLoss(lost);
    // The forks queued before these execs go first: a child's fork precedes its exec. The
    // exits read so far go after them, so a short process's exit follows its exec.
    const bool with_lifecycle = !done_.empty() && lifecycle_ != nullptr && sink_ != nullptr && !sink_muted_;
    if (with_lifecycle) readLifecycle(std::chrono::steady_clock::now());
    const bool replaying = replay_floor_ != 0 && std::chrono::steady_clock::now() < replay_until_;
    for (audit::ExecEvent& e : done_) {
      parent_images_.forget(e.pid);  // it runs another image now, for the children it forks next
      if (sink_ == nullptr || sink_muted_ || e.pid == self_pid_) continue;
      if (replaying && e.serial <= replay_floor_) continue;  // already read from the multicast group
      if (e.serial > emitted_serial_max_) emitted_serial_max_ = e.serial;
      ProcessRecord r;
      r.kind = RecordKind::Exec;
      r.time_ns = e.time_ns;
      r.seq = e.serial;
      r.subject.pid = e.pid;
      r.parent.pid = e.ppid;
      r.uid = e.uid;
      r.euid = e.euid;
      r.gid = e.gid;
      r.executable = std::move(e.exe);
      r.args = std::move(e.args);
      r.args_complete = e.args_complete;
      r.has_cwd = e.has_cwd;
      r.cwd = std::move(e.cwd);
      // Read now, while the parent most likely still runs the image that forked this one. Only
      // the connector tells when a pid's process ended: without it, every exec reads the link.
      if (e.ppid > 0) r.parent_executable = lifecycle_ != nullptr ? parent_images_.executable(e.ppid) : linux_proc::executable(e.ppid);
      sink_->push(r);
    }
    done_.clear();
    if (with_lifecycle) pushHeldExits();
  }

  void pushHeldExits() {
    for (const ProcessRecord& exit : held_exits_) sink_->push(exit);
    held_exits_.clear();
  }

  const int32_t self_pid_;
  LifecycleFeed* const lifecycle_;  // null: execs only
  bool lifecycle_read_recently_ = false;  // the feed is left out of the poll until lifecycle_next_read_
  std::chrono::steady_clock::time_point lifecycle_next_read_{};
  // Exits read from the feed, pushed after the next execs or at the next read of the feed.
  std::vector<ProcessRecord> held_exits_;
  // Parents' images, forgotten by the execs read here and the feed's ends and forks.
  linux_proc::ExecutableCache parent_images_;
  const std::string rule_key_;  // "keysentry-<pid>-<n>": ours alone
  RecordSink* sink_ = nullptr;
  bool sink_muted_ = false;
  Fd ctl_;
  Fd events_;  // multicast mode only; in daemon mode records come on ctl_
  CaptureThread capture_;
  audit::Assembler assembler_{audit::Assembler::Limits{}};
  std::vector<audit::ExecEvent> done_;
  uint32_t seq_ = 0;
  uint32_t awaiting_seq_ = 0;
  uint16_t awaiting_reply_ = 0;
  int ack_result_ = -1;
  audit_status* status_reply_ = nullptr;
  std::vector<ListedRule>* listing_ = nullptr;  // collects an AUDIT_LIST_RULES reply
  uint64_t emitted_serial_max_ = 0;
  uint64_t replay_floor_ = 0;
  std::chrono::steady_clock::time_point replay_until_{};
  uint32_t lost_baseline_ = 0;
  bool registered_ = false;
  bool restore_enabled_ = false;
  int64_t restore_backlog_ = -1;
  std::vector<ExecRule> installed_;
  // Rule-list replies may pack several messages into one datagram: 64 KiB each. 16 of them: an
  // exec is 3 datagrams, and a read that fills every slot costs one more (empty) read.
  DatagramReader datagrams_{16, 65536};
};

}  // namespace

std::unique_ptr<Backend> createAuditBackend(const BackendOptions& options, LifecycleFeed* lifecycle) {
  return std::make_unique<AuditBackend>(options, lifecycle);
}

}  // namespace keysentry

#include "audit_parse.h"

#include <algorithm>
#include <charconv>

namespace keysentry {
namespace audit {

namespace {

template <typename T>
bool parseNumber(std::string_view s, T& out, int base = 10) {
  if (s.empty()) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// What an EXECVE key names: a<index>, a<index>_len or a<index>[<chunk>].
enum class ArgKey { None, Whole, Length, Chunk };
ArgKey argKey(std::string_view key, size_t& index) {
  if (key.size() < 2 || key[0] != 'a') return ArgKey::None;
  size_t i = 1;
  while (i < key.size() && key[i] >= '0' && key[i] <= '9') ++i;
  if (i == 1 || !parseNumber(key.substr(1, i - 1), index)) return ArgKey::None;
  const std::string_view tail = key.substr(i);
  if (tail.empty()) return ArgKey::Whole;
  if (tail == "_len") return ArgKey::Length;
  if (tail.front() == '[' && tail.back() == ']') return ArgKey::Chunk;
  return ArgKey::None;
}

}  // namespace

bool parseHeader(std::string_view text, uint64_t& time_ns, uint64_t& serial, std::string_view& body) {
  constexpr std::string_view kPrefix = "audit(";
  if (text.substr(0, kPrefix.size()) != kPrefix) return false;
  const size_t close = text.find("):", kPrefix.size());
  if (close == std::string_view::npos) return false;
  const std::string_view stamp = text.substr(kPrefix.size(), close - kPrefix.size());
  const size_t dot = stamp.find('.');
  const size_t colon = stamp.find(':');
  if (dot == std::string_view::npos || colon == std::string_view::npos || colon < dot) return false;
  uint64_t sec = 0, ms = 0;
  if (!parseNumber(stamp.substr(0, dot), sec) || !parseNumber(stamp.substr(dot + 1, colon - dot - 1), ms) ||
      !parseNumber(stamp.substr(colon + 1), serial)) {
    return false;
  }
  time_ns = sec * 1000000000ull + ms * 1000000ull;
  body = text.substr(close + 2);
  return true;
}

bool FieldReader::next(std::string_view& key, std::string_view& value, bool& quoted) {
  while (!rest_.empty() && rest_.front() == ' ') rest_.remove_prefix(1);
  if (rest_.empty()) return false;
  const size_t eq = rest_.find('=');
  const size_t space = rest_.find(' ');
  if (eq == std::string_view::npos || (space != std::string_view::npos && space < eq)) {
    // A bare word (no '='): skip it.
    rest_.remove_prefix(space == std::string_view::npos ? rest_.size() : space);
    return next(key, value, quoted);
  }
  key = rest_.substr(0, eq);
  rest_.remove_prefix(eq + 1);
  quoted = !rest_.empty() && (rest_.front() == '"' || rest_.front() == '\'');
  if (quoted) {
    const char q = rest_.front();
    const size_t end = rest_.find(q, 1);
    const size_t len = end == std::string_view::npos ? rest_.size() - 1 : end - 1;
    value = rest_.substr(1, len);
    rest_.remove_prefix(end == std::string_view::npos ? rest_.size() : end + 1);
  } else {
    const size_t end = rest_.find(' ');
    value = rest_.substr(0, end);
    rest_.remove_prefix(end == std::string_view::npos ? rest_.size() : end);
  }
  return true;
}

size_t appendUntrusted(std::string& out, std::string_view value, bool quoted, size_t limit) {
  if (!quoted && value == "(null)") return 0;
  const bool hex = !quoted && value.size() % 2 == 0 &&
                   std::all_of(value.begin(), value.end(), [](char c) { return hexDigit(c) >= 0; });
  if (!hex) {  // quoted, or not hex after all: kept as logged
    out.append(value.substr(0, std::min(value.size(), limit)));
    return value.size();
  }
  const size_t start = out.size();
  const size_t len = std::min(value.size() / 2, limit);
  out.resize(start + len);
  for (size_t i = 0; i < len; ++i) {
    out[start + i] = static_cast<char>(hexDigit(value[2 * i]) * 16 + hexDigit(value[2 * i + 1]));
  }
  return value.size() / 2;
}

bool isExecSyscall(uint32_t arch, int64_t syscall) {
  switch (arch) {
    case 0xc000003e:  // x86_64: execve, execveat
      return syscall == 59 || syscall == 322;
    case 0x40000003:  // i386
      return syscall == 11 || syscall == 358;
    case 0xc00000b7:  // aarch64
      return syscall == 221 || syscall == 281;
    case 0x40000028:  // arm (EABI)
      return syscall == 11 || syscall == 387;
    default:
      return false;
  }
}

Assembler::Pending& Assembler::pending(uint64_t serial, uint64_t time_ns) {
  auto it = pending_.find(serial);
  if (it != pending_.end()) return it->second;
  if (pending_.size() >= limits_.max_pending) {
    // Full: the oldest event is the one least likely to still complete.
    while (!order_.empty()) {
      const uint64_t oldest = order_.front();
      order_.pop_front();
      auto victim = pending_.find(oldest);
      if (victim == pending_.end()) continue;
      if (victim->second.is_exec || victim->second.argc >= 0) ++discarded_;
      pending_.erase(victim);
      break;
    }
  }
  Pending& p = pending_[serial];
  p.event.serial = serial;
  p.event.time_ns = time_ns;
  p.created = Clock::now();
  order_.push_back(serial);
  return p;
}

void Assembler::add(int type, std::string_view text, std::vector<ExecEvent>& done) {
  if (type != kSyscall && type != kExecve && type != kCwd && type != kEoe) return;
  uint64_t time_ns = 0, serial = 0;
  std::string_view body;
  if (!parseHeader(text, time_ns, serial, body)) {
    ++malformed_;
    return;
  }
  if (type == kEoe) {
    // Only from a kernel that refused the socket filter: an exec without a CWD record ends here.
    if (pending_.count(serial) != 0) finish(serial, done);
    forgetOrderWhenIdle();
    return;
  }
  Pending& p = pending(serial, time_ns);
  if (type == kSyscall) {
    parseSyscall(p, body);
    // Another rule's event (shared audit). Its SYSCALL comes first, and of its later records
    // only a CWD passes the socket filter, which then ends a pending event without a SYSCALL.
    if (!p.is_exec) {
      pending_.erase(serial);
      forgetOrderWhenIdle();
    }
  } else if (type == kExecve) {
    parseExecve(p, body);
  } else {
    FieldReader fields(body);
    std::string_view key, value;
    bool quoted = false;
    while (fields.next(key, value, quoted)) {
      if (key == "cwd") {
        p.event.cwd.clear();
        appendUntrusted(p.event.cwd, value, quoted);
        p.event.has_cwd = true;
      }
    }
    // The kernel writes an exec's records in one order (kernel/auditsc.c, audit_log_exit()):
    // SYSCALL, every EXECVE, CWD, then PATH, PROCTITLE and EOE, which the socket filter drops.
    // So the CWD is the last record of an exec that reaches us: the event is whole, and
    // waiting for its EOE (often a wake-up of its own) would only add one.
    finish(serial, done);
    forgetOrderWhenIdle();
  }
}

void Assembler::forgetOrderWhenIdle() {
  // Nothing waits: every serial kept for expiry is stale. Dropped here, since expire() runs
  // only while an event waits: at one exec at a time it never ran, and order_ grew forever.
  if (pending_.empty()) order_.clear();
}

void Assembler::parseSyscall(Pending& p, std::string_view body) {
  FieldReader fields(body);
  std::string_view key, value;
  bool quoted = false;
  uint32_t arch = 0;
  int64_t syscall = -1;
  while (fields.next(key, value, quoted)) {
    if (key == "arch") {
      parseNumber(value, arch, 16);
    } else if (key == "syscall") {
      parseNumber(value, syscall);
    } else if (key == "success") {
      p.success = value == "yes";
    } else if (key == "pid") {
      parseNumber(value, p.event.pid);
    } else if (key == "ppid") {
      parseNumber(value, p.event.ppid);
    } else if (key == "uid") {
      parseNumber(value, p.event.uid);
    } else if (key == "euid") {
      parseNumber(value, p.event.euid);
    } else if (key == "gid") {
      parseNumber(value, p.event.gid);
    } else if (key == "exe") {
      p.event.exe.clear();
      appendUntrusted(p.event.exe, value, quoted);
    }
  }
  p.has_syscall = true;
  p.is_exec = isExecSyscall(arch, syscall);
}

void Assembler::parseExecve(Pending& p, std::string_view body) {
  FieldReader fields(body);
  std::string_view key, value;
  bool quoted = false;
  auto& args = p.event.args;
  while (fields.next(key, value, quoted)) {
    if (key == "argc") {
      if (!parseNumber(value, p.argc) || p.argc < 0) {
        ++malformed_;
        return;
      }
      const size_t kept = std::min(static_cast<size_t>(p.argc), limits_.max_args);
      if (kept < static_cast<size_t>(p.argc)) p.event.args_complete = false;
      args.assign(kept, std::string());
      p.arg_seen.assign(kept, false);
      p.chunked_len.assign(kept, -1);
      continue;
    }
    size_t index = 0;
    const ArgKey kind = argKey(key, index);
    if (kind == ArgKey::None || index >= args.size()) continue;
    if (kind == ArgKey::Length) {
      parseNumber(value, p.chunked_len[index]);
      continue;
    }
    std::string& arg = args[index];
    const size_t before = arg.size();
    const size_t room = limits_.max_arg_bytes - p.arg_bytes;
    if (appendUntrusted(arg, value, quoted, room) > room) p.event.args_complete = false;
    p.arg_bytes += arg.size() - before;
    p.arg_seen[index] = true;
  }
}

bool Assembler::complete(const Pending& p) const {
  if (p.argc < 0) return false;
  for (size_t i = 0; i < p.arg_seen.size(); ++i) {
    if (!p.arg_seen[i]) return false;
    if (p.chunked_len[i] >= 0 && static_cast<int64_t>(p.event.args[i].size()) != p.chunked_len[i]) return false;
  }
  return true;
}

void Assembler::finish(uint64_t serial, std::vector<ExecEvent>& done) {
  auto it = pending_.find(serial);
  Pending& p = it->second;
  if (p.has_syscall && p.is_exec && p.success) {
    if (!complete(p)) p.event.args_complete = false;
    done.push_back(std::move(p.event));
  }
  pending_.erase(it);
}

void Assembler::expire(Clock::time_point now, std::vector<ExecEvent>& done) {
  uint64_t discarded = 0;
  while (!order_.empty()) {
    auto it = pending_.find(order_.front());
    if (it == pending_.end()) {
      order_.pop_front();
      continue;
    }
    if (now - it->second.created < limits_.timeout) break;
    const Pending& p = it->second;
    // No CWD came: an exec whose SYSCALL and EXECVE both arrived is still worth reporting;
    // one that lost either half is counted, and another rule's event is simply forgotten.
    if (p.has_syscall && p.is_exec && p.argc >= 0) {
      finish(order_.front(), done);
    } else {
      if (p.is_exec || p.argc >= 0) ++discarded;
      pending_.erase(it);
    }
    order_.pop_front();
  }
  discarded_ += discarded;
}

}  // namespace audit
}  // namespace keysentry

#include "es_translate.h"

#include <bsm/libbsm.h>

#include <string>
#include <utility>

namespace keysentry {
namespace es {
namespace {

// Message versions that introduced the fields read here (ESMessage.h).
constexpr uint32_t kVersionSeqNum = 2;
constexpr uint32_t kVersionExecCwd = 3;
constexpr uint32_t kVersionProcessTokens = 4;  // responsible/parent_audit_token
constexpr uint32_t kVersionGlobalSeqNum = 4;

// Tokens are length-delimited, not NUL-terminated; an absent one has data == NULL.
std::string tokenString(const es_string_token_t& token) {
  if (token.data == nullptr || token.length == 0) return std::string();
  return std::string(token.data, token.length);
}

// ES cuts a path over its limit and says so: the record carries that on, as it does for argv.
std::string filePath(const es_file_t* file, ProcessRecord& out) {
  if (file == nullptr) return std::string();
  if (file->path_truncated) out.paths_complete = false;
  return tokenString(file->path);
}

ProcessRef refOf(const audit_token_t& token) {
  ProcessRef ref;
  ref.pid = audit_token_to_pid(token);
  ref.pidversion = audit_token_to_pidversion(token);
  return ref;
}

void setCredentials(const audit_token_t& token, ProcessRecord& out) {
  out.uid = static_cast<int32_t>(audit_token_to_ruid(token));
  out.euid = static_cast<int32_t>(audit_token_to_euid(token));
  out.gid = static_cast<int32_t>(audit_token_to_rgid(token));
}

void setCodeSignature(const es_process_t& process, CodeSignature& out) {
  out.present = true;
  out.flags = process.codesigning_flags;
  out.is_platform_binary = process.is_platform_binary;
  out.signing_id = tokenString(process.signing_id);
  out.team_id = tokenString(process.team_id);
}

uint64_t wallClockNs(const struct timespec& t) {
  if (t.tv_sec < 0) return 0;
  return static_cast<uint64_t>(t.tv_sec) * 1000000000ull + static_cast<uint64_t>(t.tv_nsec);
}

void readArgs(const es_event_exec_t& exec, ProcessRecord& out) {
  const uint32_t count = es_exec_arg_count(&exec);
  const uint32_t kept = count < kMaxArgs ? count : kMaxArgs;
  out.args.reserve(kept);
  size_t bytes = 0;
  for (uint32_t i = 0; i < kept; i++) {
    const es_string_token_t arg = es_exec_arg(&exec, i);
    if (arg.length > kMaxArgBytes - bytes) {
      out.args_complete = false;
      return;
    }
    bytes += arg.length;
    out.args.push_back(tokenString(arg));
  }
  out.args_complete = kept == count;
}

void translateExec(const es_message_t& msg, ProcessRecord& out) {
  const es_event_exec_t& exec = msg.event.exec;
  const es_process_t& target = *exec.target;
  out.kind = RecordKind::Exec;
  out.subject = refOf(target.audit_token);
  setCredentials(target.audit_token, out);
  out.executable = filePath(target.executable, out);
  setCodeSignature(target, out.code_signature);
  readArgs(exec, out);
  if (msg.version >= kVersionExecCwd && exec.cwd != nullptr) {
    out.has_cwd = true;
    out.cwd = filePath(exec.cwd, out);
  }
  // The parent is the forker, named by the target's parent_audit_token; msg.process is the
  // same pid before the exec (xpcproxy -> a daemon whose parent is launchd), never the parent.
  if (msg.version >= kVersionProcessTokens) {
    out.parent = refOf(target.parent_audit_token);
    out.responsible = refOf(target.responsible_audit_token);
  } else {
    out.parent.pid = target.ppid;
  }
  out.pre_exec = refOf(msg.process->audit_token);
  out.pre_exec_executable = filePath(msg.process->executable, out);
}

void translateFork(const es_message_t& msg, ProcessRecord& out) {
  const es_process_t& child = *msg.event.fork.child;
  out.kind = RecordKind::Fork;
  out.subject = refOf(child.audit_token);
  setCredentials(child.audit_token, out);
  out.executable = filePath(child.executable, out);
  setCodeSignature(child, out.code_signature);
  // The forking process is the message's process, with its exact pidversion at every version.
  out.parent = refOf(msg.process->audit_token);
}

void translateExit(const es_message_t& msg, ProcessRecord& out) {
  out.kind = RecordKind::Exit;
  out.subject = refOf(msg.process->audit_token);
  setCredentials(msg.process->audit_token, out);
  out.exit_status = msg.event.exit.stat;
}

}  // namespace

uint64_t DropDetector::gap(Last& last, uint64_t value) {
  const bool counted = last.seen && value > last.value;
  const uint64_t dropped = counted ? value - last.value - 1 : 0;
  last.seen = true;
  last.value = value;
  return dropped;
}

uint64_t DropDetector::observe(const es_message_t& msg) {
  if (msg.version >= kVersionGlobalSeqNum) return gap(global_, msg.global_seq_num);
  if (msg.version < kVersionSeqNum) return 0;
  switch (msg.event_type) {
    case ES_EVENT_TYPE_NOTIFY_EXEC:
      return gap(exec_, msg.seq_num);
    case ES_EVENT_TYPE_NOTIFY_FORK:
      return gap(fork_, msg.seq_num);
    case ES_EVENT_TYPE_NOTIFY_EXIT:
      return gap(exit_, msg.seq_num);
    default:
      return 0;
  }
}

bool translateMessage(const es_message_t& msg, ProcessRecord& out) {
  switch (msg.event_type) {
    case ES_EVENT_TYPE_NOTIFY_EXEC:
      translateExec(msg, out);
      break;
    case ES_EVENT_TYPE_NOTIFY_FORK:
      translateFork(msg, out);
      break;
    case ES_EVENT_TYPE_NOTIFY_EXIT:
      translateExit(msg, out);
      break;
    default:
      return false;
  }
  out.time_ns = wallClockNs(msg.time);
  out.seq = msg.version >= kVersionGlobalSeqNum ? msg.global_seq_num : 0;
  return true;
}

void MessageTranslator::handle(const es_message_t& msg) {
  const uint64_t dropped = drops_.observe(msg);
  if (dropped > 0) sink_.reportSourceLoss(dropped);
  ProcessRecord record;
  if (translateMessage(msg, record)) sink_.push(record);
}

}  // namespace es
}  // namespace keysentry

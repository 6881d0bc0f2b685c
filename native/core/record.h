// The record every backend produces and the shared core batches to JavaScript.
// Field meanings mirror src/model/records.ts; the packed encoding lives in batch.h/.cc
// and its decoder in src/sources/native.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace keysentry {

enum class RecordKind : uint8_t { Exec = 1, Fork = 2, Exit = 3 };

// pidversion < 0: the source has no generation number (Linux).
struct ProcessRef {
  int32_t pid = -1;
  int32_t pidversion = -1;
};

struct CodeSignature {
  bool present = false;  // the source reports code signing at all (macOS)
  uint32_t flags = 0;    // CS_* bits
  bool is_platform_binary = false;
  std::string signing_id;
  std::string team_id;
};

struct ProcessRecord {
  RecordKind kind = RecordKind::Exec;
  uint64_t time_ns = 0;  // wall clock, ns since the Unix epoch
  uint64_t seq = 0;      // source sequence (ES global_seq_num, audit serial); 0 = none

  // exec: the image after exec; fork: the child; exit: the exiting process.
  ProcessRef subject;
  ProcessRef parent;       // exec/fork: the forker
  ProcessRef responsible;  // exec: ES responsible process (effective parent); pid -1 = none
  ProcessRef pre_exec;     // exec: ES msg->process (same pid before exec); pid -1 = none

  int32_t uid = -1, euid = -1, gid = -1;
  std::string executable;
  std::string pre_exec_executable;
  std::string parent_executable;  // what the source saw of the parent's image; empty = unknown
  std::vector<std::string> args;
  bool args_complete = true;
  bool paths_complete = true;  // false: the source cut a path it reports (ES's path_truncated)
  bool has_cwd = false;
  std::string cwd;
  CodeSignature code_signature;
  int32_t exit_status = 0;
};

}  // namespace keysentry

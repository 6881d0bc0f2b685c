// EndpointSecurity message -> ProcessRecord, in plain C++ (no blocks, no N-API), so the same
// code runs on a Mac and, against native/test-double, in the Linux tests.
//
// Every field newer than message version 1 is read only behind a msg.version check; the
// gates are listed in docs/macos.md.
#pragma once

#include <EndpointSecurity/EndpointSecurity.h>

#include <cstddef>
#include <cstdint>

#include "../core/backend.h"
#include "../core/record.h"

namespace keysentry {
namespace es {

// One exec's argv may be up to ARG_MAX (1 MiB) of attacker-chosen strings; beyond these
// bounds it is cut and args_complete cleared.
constexpr uint32_t kMaxArgs = 4096;
constexpr size_t kMaxArgBytes = 256 * 1024;

// Counts messages ES dropped for this client, from gaps in its sequence numbers:
// global_seq_num (v4+, across event types) when present, else seq_num (v2+, per type).
// A number that goes backwards (a new client) starts a new baseline instead of a gap.
class DropDetector {
 public:
  // How many messages ES dropped between the previous message and `msg`.
  uint64_t observe(const es_message_t& msg);

 private:
  struct Last {
    bool seen = false;
    uint64_t value = 0;
  };
  static uint64_t gap(Last& last, uint64_t value);

  Last global_;
  Last exec_, fork_, exit_;
};

// Fills `out` from a NOTIFY_EXEC, NOTIFY_FORK or NOTIFY_EXIT message; false (and `out`
// untouched) for any other event type.
bool translateMessage(const es_message_t& msg, ProcessRecord& out);

// What the ES handler calls for each message: translate, count drops, push. ES delivers
// messages strictly serially, so this needs no lock of its own.
class MessageTranslator {
 public:
  explicit MessageTranslator(RecordSink& sink) : sink_(sink) {}
  void handle(const es_message_t& msg);

 private:
  RecordSink& sink_;
  DropDetector drops_;
};

}  // namespace es
}  // namespace keysentry

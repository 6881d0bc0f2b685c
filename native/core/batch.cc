#include "batch.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <stdexcept>

namespace keysentry {

namespace {
// size | kind flags reserved(u16) | time seq | 4 refs | uid euid gid exit_status | cs_flags
constexpr size_t kFixedRecordSize = 4 + 4 + 16 + 4 * 8 + 4 * 4 + 4;
constexpr size_t kStringFields = 6;  // executable, pre_exec, parent, cwd, signing_id, team_id
// Strings shorter than this are written out: a reference would save nothing.
constexpr size_t kMinReferencedLength = 5;
constexpr uint32_t kNoString = 0xffffffffu;
}  // namespace

size_t encodedSize(const ProcessRecord& r) {
  size_t n = kFixedRecordSize + 4 * kStringFields + 4;
  n += r.executable.size() + r.pre_exec_executable.size() + r.parent_executable.size() + r.cwd.size() +
       r.code_signature.signing_id.size() + r.code_signature.team_id.size();
  for (const auto& a : r.args) n += 4 + a.size();
  return n;
}

BatchWriter::BatchWriter() { startHeader(); }

void BatchWriter::reserve(size_t record_bytes) { buffer_.reserve(buffer_.size() + record_bytes); }

void BatchWriter::startHeader() {
  buffer_.clear();
  std::fill(std::begin(last_in_slot_), std::end(last_in_slot_), kNoString);
  count_ = 0;
  putU32(kBatchMagic);
  putU16(kBatchVersion);
  putU16(kBatchHeaderSize);
  putU32(0);  // record_count, patched by finish()
  putU32(0);  // byte_length, patched by finish()
}

void BatchWriter::putU16(uint16_t v) {
  const uint8_t b[2] = {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8)};
  buffer_.insert(buffer_.end(), b, b + 2);
}

void BatchWriter::putU32(uint32_t v) {
  const uint8_t b[4] = {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v >> 16),
                        static_cast<uint8_t>(v >> 24)};
  buffer_.insert(buffer_.end(), b, b + 4);
}

void BatchWriter::putU64(uint64_t v) {
  putU32(static_cast<uint32_t>(v));
  putU32(static_cast<uint32_t>(v >> 32));
}

void BatchWriter::patchU32(size_t offset, uint32_t v) {
  uint8_t* p = buffer_.data() + offset;
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}

void BatchWriter::putString(const std::string& s, size_t slot) {
  if (s.size() >= kStringReference) throw std::length_error("string too long for a batch");
  const size_t here = buffer_.size();
  const bool referable = s.size() >= kMinReferencedLength && here < kStringReference && slot < kSlots;
  if (referable) {
    const uint32_t last = last_in_slot_[slot];
    if (last != kNoString) {
      const uint8_t* p = buffer_.data() + last;
      const uint32_t n = static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
                         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
      if (n == s.size() && std::memcmp(p + 4, s.data(), n) == 0) {
        putU32(kStringReference | last);
        return;
      }
    }
    last_in_slot_[slot] = static_cast<uint32_t>(here);
  }
  putU32(static_cast<uint32_t>(s.size()));
  buffer_.insert(buffer_.end(), s.begin(), s.end());
}

void BatchWriter::append(const ProcessRecord& r) {
  const size_t start = buffer_.size();
  putU32(0);  // record_size, patched below
  uint8_t flags = 0;
  if (r.args_complete) flags |= kFlagArgsComplete;
  if (r.has_cwd) flags |= kFlagHasCwd;
  if (r.code_signature.present) flags |= kFlagHasCodeSignature;
  if (r.code_signature.is_platform_binary) flags |= kFlagPlatformBinary;
  putU8(static_cast<uint8_t>(r.kind));
  putU8(flags);
  putU16(0);
  putU64(r.time_ns);
  putU64(r.seq);
  for (const ProcessRef* ref : {&r.subject, &r.parent, &r.responsible, &r.pre_exec}) {
    putI32(ref->pid);
    putI32(ref->pidversion);
  }
  putI32(r.uid);
  putI32(r.euid);
  putI32(r.gid);
  putI32(r.exit_status);
  putU32(r.code_signature.flags);
  putString(r.executable, 0);
  putString(r.pre_exec_executable, 1);
  putString(r.parent_executable, 2);
  putString(r.cwd, 3);
  putString(r.code_signature.signing_id, 4);
  putString(r.code_signature.team_id, 5);
  putU32(static_cast<uint32_t>(r.args.size()));
  for (size_t i = 0; i < r.args.size(); ++i) putString(r.args[i], 6 + i);
  patchU32(start, static_cast<uint32_t>(buffer_.size() - start));
  ++count_;
}

std::vector<uint8_t> BatchWriter::finish() {
  patchU32(8, count_);
  patchU32(12, static_cast<uint32_t>(buffer_.size()));
  std::vector<uint8_t> out;
  out.swap(buffer_);
  startHeader();
  return out;
}

}  // namespace keysentry

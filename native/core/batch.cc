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

namespace {

uint8_t* putU16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  return p + 2;
}

uint8_t* putU32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
  return p + 4;
}

uint8_t* putU64(uint8_t* p, uint64_t v) { return putU32(putU32(p, static_cast<uint32_t>(v)), static_cast<uint32_t>(v >> 32)); }
uint8_t* putI32(uint8_t* p, int32_t v) { return putU32(p, static_cast<uint32_t>(v)); }

uint32_t readU32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}

}  // namespace

BatchWriter::BatchWriter() { startHeader(); }

void BatchWriter::startHeader() {
  buffer_.resize(kBatchHeaderSize);
  std::fill(std::begin(last_in_slot_), std::end(last_in_slot_), kNoString);
  count_ = 0;
  uint8_t* p = putU32(buffer_.data(), kBatchMagic);
  p = putU16(p, kBatchVersion);
  p = putU16(p, kBatchHeaderSize);
  p = putU32(p, 0);  // record_count, patched by finish()
  putU32(p, 0);      // byte_length, patched by finish()
}

uint8_t* BatchWriter::putString(uint8_t* p, const std::string& s, size_t slot) {
  if (s.size() >= kStringReference) throw std::length_error("string too long for a batch");
  const size_t here = static_cast<size_t>(p - buffer_.data());
  const bool referable = s.size() >= kMinReferencedLength && here < kStringReference && slot < kSlots;
  if (referable) {
    const uint32_t last = last_in_slot_[slot];
    if (last != kNoString) {
      const uint8_t* earlier = buffer_.data() + last;
      if (readU32(earlier) == s.size() && std::memcmp(earlier + 4, s.data(), s.size()) == 0) {
        return putU32(p, kStringReference | last);
      }
    }
    last_in_slot_[slot] = static_cast<uint32_t>(here);
  }
  p = putU32(p, static_cast<uint32_t>(s.size()));
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

void BatchWriter::append(const ProcessRecord& r) {
  const size_t start = buffer_.size();
  // Written in place over the record's upper bound, then cut to what references left.
  buffer_.resize(start + encodedSize(r));
  uint8_t* const begin = buffer_.data() + start;
  uint8_t flags = 0;
  if (r.args_complete) flags |= kFlagArgsComplete;
  if (r.has_cwd) flags |= kFlagHasCwd;
  if (r.code_signature.present) flags |= kFlagHasCodeSignature;
  if (r.code_signature.is_platform_binary) flags |= kFlagPlatformBinary;
  if (!r.paths_complete) flags |= kFlagPathTruncated;
  uint8_t* p = begin + 4;  // record_size, written last
  *p++ = static_cast<uint8_t>(r.kind);
  *p++ = flags;
  p = putU16(p, 0);
  p = putU64(p, r.time_ns);
  p = putU64(p, r.seq);
  for (const ProcessRef* ref : {&r.subject, &r.parent, &r.responsible, &r.pre_exec}) {
    p = putI32(p, ref->pid);
    p = putI32(p, ref->pidversion);
  }
  p = putI32(p, r.uid);
  p = putI32(p, r.euid);
  p = putI32(p, r.gid);
  p = putI32(p, r.exit_status);
  p = putU32(p, r.code_signature.flags);
  p = putString(p, r.executable, 0);
  p = putString(p, r.pre_exec_executable, 1);
  p = putString(p, r.parent_executable, 2);
  p = putString(p, r.cwd, 3);
  p = putString(p, r.code_signature.signing_id, 4);
  p = putString(p, r.code_signature.team_id, 5);
  p = putU32(p, static_cast<uint32_t>(r.args.size()));
  for (size_t i = 0; i < r.args.size(); ++i) p = putString(p, r.args[i], 6 + i);
  const size_t size = static_cast<size_t>(p - begin);
  putU32(begin, static_cast<uint32_t>(size));
  buffer_.resize(start + size);
  ++count_;
}

std::vector<uint8_t> BatchWriter::finish() {
  putU32(buffer_.data() + 8, count_);
  putU32(buffer_.data() + 12, static_cast<uint32_t>(buffer_.size()));
  std::vector<uint8_t> out;
  out.reserve(buffer_.size());
  out.swap(buffer_);
  startHeader();
  return out;
}

}  // namespace keysentry

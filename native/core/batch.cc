#include "batch.h"

#include <stdexcept>

namespace keysentry {

namespace {
// size | kind flags reserved(u16) | time seq | 4 refs | uid euid gid exit_status | cs_flags
constexpr size_t kFixedRecordSize = 4 + 4 + 16 + 4 * 8 + 4 * 4 + 4;
constexpr size_t kStringFields = 6;  // executable, pre_exec, parent, cwd, signing_id, team_id
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
  defined_.clear();
  defined_base_ = nullptr;
  count_ = 0;
  putU32(kBatchMagic);
  putU16(kBatchVersion);
  putU16(kBatchHeaderSize);
  putU32(0);  // record_count, patched by finish()
  putU32(0);  // byte_length, patched by finish()
}

namespace {
// Strings shorter than this are written out: a reference would save nothing.
constexpr size_t kMinReferencedLength = 5;
// Bounds the writer's memory per batch; later repeats are simply written out.
constexpr size_t kMaxDefinitions = 8192;
}  // namespace

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

void BatchWriter::putString(const std::string& s) {
  if (s.size() >= kStringReference) throw std::length_error("string too long for a batch");
  const size_t here = buffer_.size();
  const bool referable = s.size() >= kMinReferencedLength && here < kStringReference;
  if (referable) {
    if (defined_base_ != buffer_.data()) rebaseDefinitions();
    auto it = defined_.find(std::string_view(s));
    if (it != defined_.end()) {
      putU32(kStringReference | it->second);
      return;
    }
  }
  putU32(static_cast<uint32_t>(s.size()));
  buffer_.insert(buffer_.end(), s.begin(), s.end());
  if (referable && defined_.size() < kMaxDefinitions) {
    if (defined_base_ != buffer_.data()) rebaseDefinitions();
    defined_.emplace(std::string_view(reinterpret_cast<const char*>(buffer_.data()) + here + 4, s.size()),
                     static_cast<uint32_t>(here));
  }
}

void BatchWriter::rebaseDefinitions() {
  std::unordered_map<std::string_view, uint32_t> moved;
  moved.reserve(defined_.size());
  const char* base = reinterpret_cast<const char*>(buffer_.data());
  for (const auto& [view, offset] : defined_) moved.emplace(std::string_view(base + offset + 4, view.size()), offset);
  defined_.swap(moved);
  defined_base_ = buffer_.data();
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
  putString(r.executable);
  putString(r.pre_exec_executable);
  putString(r.parent_executable);
  putString(r.cwd);
  putString(r.code_signature.signing_id);
  putString(r.code_signature.team_id);
  putU32(static_cast<uint32_t>(r.args.size()));
  for (const auto& a : r.args) putString(a);
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

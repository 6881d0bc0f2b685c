// Packed batch encoding: one buffer carries many ProcessRecords from the addon to
// JavaScript, decoded by src/sources/native-decode.ts. Building JS objects in C++ costs more
// than everything else on the path, so records cross the boundary as bytes.
//
// Layout (all integers little-endian; full description in docs/native.md):
//   header  u32 magic 'KSNB' | u16 version | u16 header_size | u32 record_count | u32 byte_length
//   record  u32 record_size (bytes, including this field) | fixed part | strings | argv
//   string  u32 n | n bytes of UTF-8, or, with bit 31 of n set, a reference: the low 31
//           bits are the batch offset of an earlier string (its length) with the same bytes
// A decoder skips to the next record by record_size, so a later version may append fields
// to a record without breaking older decoders; a change to existing fields bumps version.
// References point at bytes, not at string numbers, so skipping a record loses nothing.
// Exec streams repeat themselves (executables, cwds, parents, argv[0]): a repeated string
// costs 4 bytes and, on the JavaScript side, no decode.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "record.h"

namespace keysentry {

constexpr uint32_t kBatchMagic = 0x424E534B;  // "KSNB" read as little-endian u32
constexpr uint16_t kBatchVersion = 1;
constexpr uint16_t kBatchHeaderSize = 16;
constexpr uint32_t kStringReference = 1u << 31;

// Record flag bits.
constexpr uint8_t kFlagArgsComplete = 1u << 0;
constexpr uint8_t kFlagHasCwd = 1u << 1;
constexpr uint8_t kFlagHasCodeSignature = 1u << 2;
constexpr uint8_t kFlagPlatformBinary = 1u << 3;
// Set when a path was cut (so records from older encoders, without the bit, read as complete).
constexpr uint8_t kFlagPathTruncated = 1u << 4;

class BatchWriter {
 public:
  BatchWriter();
  void append(const ProcessRecord& record);
  uint32_t recordCount() const { return count_; }
  size_t byteSize() const { return buffer_.size(); }
  // Completes the header and hands over the bytes; the writer is empty again afterwards,
  // with room for a batch as large as this one.
  std::vector<uint8_t> finish();

 private:
  void startHeader();
  // Writes `s` at `p` (in buffer_) as a string or a reference; returns the end.
  uint8_t* putString(uint8_t* p, const std::string& s, size_t slot);

  std::vector<uint8_t> buffer_;
  uint32_t count_ = 0;
  // Per string slot (record field, or argv position), the offset of the last string
  // written there: a string equal to it becomes a reference. Repeats in exec streams are
  // slot-wise (same executable, cwd, parent, argv[0] as a recent record), and a compare
  // against one candidate costs less than hashing every string.
  static constexpr size_t kSlots = 6 + 10;
  uint32_t last_in_slot_[kSlots];
};

// Upper bound of the bytes one record occupies in a batch (exact without references): lets
// the queue check its byte cap before encoding.
size_t encodedSize(const ProcessRecord& record);

}  // namespace keysentry

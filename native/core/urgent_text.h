// Which execs an alert may wait on ("urgent text"): an exec is urgent when one of a set of
// needles occurs in one of its strings, ASCII letters compared case-insensitively and every
// other byte exactly. Only urgent execs are sent to JavaScript at once; the rest ride the next
// urgent batch or the quiet deadline (session.h), which saves the event loop a wake-up per exec.
//
// Record strings are attacker-controlled (argv), so the scan is one table lookup per byte
// whatever the needles: an Aho-Corasick automaton over byte classes, determinized when the set
// is built. Memory is bounded by caps on the needles (over them the constructor throws
// UrgentTextError); the table holds states x classes entries of 2 bytes, at most
// (kMaxNeedleBytes + 2) x 231 x 2 bytes (about 3.8 MB) at the caps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "record.h"

namespace keysentry {

class UrgentTextError : public std::length_error {
 public:
  using std::length_error::length_error;
};

class UrgentText {
 public:
  static constexpr size_t kMaxNeedles = 4096;
  static constexpr size_t kMaxNeedleBytes = 8192;

  // No needles: no exec is urgent. An empty needle occurs in every string: every exec is.
  explicit UrgentText(std::vector<std::string> needles);

  // Scans the executable, the pre-exec and the parent's executable, the cwd, the signing and
  // team ids and every argument.
  bool matches(const ProcessRecord& record) const;

 private:
  bool occursIn(const std::string& text) const;

  // State 0 accepts and is absorbing, so a scan checks for it once per string, not per byte.
  static constexpr uint16_t kMatch = 0;
  static constexpr uint16_t kRoot = 1;

  bool match_all_ = false;
  bool match_none_ = false;
  uint8_t class_of_[256] = {};  // class 0: bytes in no needle (they lead back to the root)
  size_t classes_ = 1;
  std::vector<uint16_t> next_;  // next_[state * classes_ + class]
};

}  // namespace keysentry

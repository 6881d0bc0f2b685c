#include "urgent_text.h"

#include <algorithm>
#include <deque>

namespace keysentry {

namespace {

uint8_t foldAscii(uint8_t b) { return b >= 'A' && b <= 'Z' ? static_cast<uint8_t>(b + ('a' - 'A')) : b; }

constexpr uint16_t kAbsent = UINT16_MAX;

}  // namespace

UrgentText::UrgentText(std::vector<std::string> needles) {
  if (needles.size() > kMaxNeedles) {
    throw UrgentTextError("urgent text: " + std::to_string(needles.size()) + " needles, more than the cap of " +
                          std::to_string(kMaxNeedles));
  }
  size_t total = 0;
  for (const std::string& n : needles) total += n.size();
  if (total > kMaxNeedleBytes) {
    throw UrgentTextError("urgent text: " + std::to_string(total) + " bytes of needles, more than the cap of " +
                          std::to_string(kMaxNeedleBytes));
  }
  match_none_ = needles.empty();
  match_all_ = std::any_of(needles.begin(), needles.end(), [](const std::string& n) { return n.empty(); });
  if (match_none_ || match_all_) return;

  // Byte classes: one per distinct folded byte of the needles, in byte order, so both cases
  // of a letter share one column and bytes of no needle share class 0.
  bool used[256] = {};
  for (const std::string& n : needles) {
    for (char c : n) used[foldAscii(static_cast<uint8_t>(c))] = true;
  }
  uint8_t class_of_folded[256] = {};
  for (int b = 0; b < 256; ++b) {
    if (used[b]) class_of_folded[b] = static_cast<uint8_t>(classes_++);
  }
  for (int b = 0; b < 256; ++b) class_of_[b] = class_of_folded[foldAscii(static_cast<uint8_t>(b))];

  // The trie, shortest needles first: a needle that runs into an accepting state holds a
  // shorter one, cannot change the answer, and adds no states.
  std::sort(needles.begin(), needles.end(), [](const std::string& a, const std::string& b) { return a.size() < b.size(); });
  next_.reserve((total + 2) * classes_);
  next_.assign(2 * classes_, kAbsent);
  std::fill(next_.begin(), next_.begin() + classes_, kMatch);
  size_t states = 2;
  for (const std::string& n : needles) {
    uint16_t s = kRoot;
    for (size_t i = 0; i < n.size() && s != kMatch; ++i) {
      const size_t edge = s * classes_ + class_of_[static_cast<uint8_t>(n[i])];
      if (i + 1 == n.size()) {
        next_[edge] = kMatch;
      } else if (next_[edge] == kAbsent) {
        next_[edge] = static_cast<uint16_t>(states++);
        next_.resize(states * classes_, kAbsent);
      }
      s = next_[edge];
    }
  }

  // Failure links, breadth first, filling every missing edge with the failure state's edge:
  // the automaton becomes a DFA. A state whose failure state accepts (a needle ends inside
  // it) accepts as well, so the edge into it goes to kMatch.
  std::vector<uint16_t> fail(states, kRoot);
  std::deque<uint16_t> queue;
  for (size_t c = 0; c < classes_; ++c) {
    uint16_t& edge = next_[kRoot * classes_ + c];
    if (edge == kAbsent) edge = kRoot;
    else if (edge != kMatch) queue.push_back(edge);
  }
  while (!queue.empty()) {
    const uint16_t s = queue.front();
    queue.pop_front();
    for (size_t c = 0; c < classes_; ++c) {
      uint16_t& edge = next_[s * classes_ + c];
      const uint16_t fallback = next_[fail[s] * classes_ + c];
      if (edge == kAbsent) {
        edge = fallback;
      } else if (edge != kMatch) {
        if (fallback == kMatch) {
          edge = kMatch;  // its subtree is never reached
        } else {
          fail[edge] = fallback;
          queue.push_back(edge);
        }
      }
    }
  }
}

bool UrgentText::occursIn(const std::string& text) const {
  uint16_t s = kRoot;
  const uint16_t* next = next_.data();
  const size_t classes = classes_;
  for (char c : text) s = next[s * classes + class_of_[static_cast<uint8_t>(c)]];
  return s == kMatch;
}

bool UrgentText::matches(const ProcessRecord& r) const {
  if (match_all_) return true;
  if (match_none_) return false;
  if (occursIn(r.executable) || occursIn(r.pre_exec_executable) || occursIn(r.parent_executable) || occursIn(r.cwd) ||
      occursIn(r.code_signature.signing_id) || occursIn(r.code_signature.team_id)) {
    return true;
  }
  return std::any_of(r.args.begin(), r.args.end(), [this](const std::string& a) { return occursIn(a); });
}

}  // namespace keysentry

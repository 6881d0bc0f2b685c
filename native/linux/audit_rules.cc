#include "audit_rules.h"

#include <atomic>

namespace keysentry {
namespace audit_rules {

std::string newKey(int32_t pid) {
  static std::atomic<uint32_t> sources{0};
  return std::string(kKeyFamily) + "-" + std::to_string(pid) + "-" + std::to_string(sources.fetch_add(1));
}

std::string_view filterKey(const audit_rule_data* rule, size_t len) {
  if (len < sizeof(audit_rule_data)) return {};
  size_t offset = 0;
  for (uint32_t i = 0; i < rule->field_count && i < AUDIT_MAX_FIELDS; ++i) {
    const uint32_t field = rule->fields[i];
    // The fields whose value is a string in buf (its length in values[i]), in field order.
    const bool has_buffer = field == AUDIT_FILTERKEY || field == AUDIT_WATCH || field == AUDIT_DIR || field == AUDIT_EXE ||
                            (field >= AUDIT_SUBJ_USER && field <= AUDIT_OBJ_LEV_HIGH);
    if (!has_buffer) continue;
    const uint32_t n = rule->values[i];
    if (offset + n > rule->buflen || sizeof(audit_rule_data) + offset + n > len) return {};
    if (field == AUDIT_FILTERKEY) return std::string_view(rule->buf + offset, n);
    offset += n;
  }
  return {};
}

uint32_t arch(const audit_rule_data* rule, size_t len) {
  if (len < sizeof(audit_rule_data)) return 0;
  for (uint32_t i = 0; i < rule->field_count && i < AUDIT_MAX_FIELDS; ++i) {
    if (rule->fields[i] == AUDIT_ARCH) return rule->values[i];
  }
  return 0;
}

bool isKeysentryKey(std::string_view key, int32_t& owner) {
  owner = 0;
  if (key.substr(0, kKeyFamily.size()) != kKeyFamily) return false;
  const std::string_view rest = key.substr(kKeyFamily.size());
  if (rest.empty()) return true;
  // "-<pid>-<n>"
  if (rest.size() < 4 || rest.size() > 22 || rest[0] != '-') return false;
  int64_t pid = 0;
  size_t i = 1;
  for (; i < rest.size() && rest[i] >= '0' && rest[i] <= '9' && pid <= INT32_MAX; ++i) pid = pid * 10 + (rest[i] - '0');
  if (pid <= 0 || pid > INT32_MAX || i + 1 >= rest.size() || rest[i] != '-') return false;
  for (++i; i < rest.size(); ++i) {
    if (rest[i] < '0' || rest[i] > '9') return false;
  }
  owner = static_cast<int32_t>(pid);
  return true;
}

}  // namespace audit_rules
}  // namespace keysentry

// Reading audit rules as the kernel lists them (AUDIT_LIST_RULES), shared by the audit
// backend's watchdog and the diagnostics.
#pragma once

#include <linux/audit.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace keysentry {
namespace audit_rules {

// Every keysentry audit source keys its rules "keysentry-<pid>-<n>" (docs/native.md,
// ownership; n tells sources of one process apart); agents before that used the bare
// "keysentry".
constexpr std::string_view kKeyFamily = "keysentry";

// A key no other source has: this process's pid and a per-process count.
std::string newKey(int32_t pid);

// The filter key of a listed rule (empty when it has none or the data is malformed).
std::string_view filterKey(const audit_rule_data* rule, size_t len);

// The AUDIT_ARCH value of a listed rule, 0 when it has none.
uint32_t arch(const audit_rule_data* rule, size_t len);

// Whether `key` is a keysentry key; `owner` gets its process's pid, or 0 for the bare key.
bool isKeysentryKey(std::string_view key, int32_t& owner);

}  // namespace audit_rules
}  // namespace keysentry

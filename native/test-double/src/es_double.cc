// Linux implementation of the double's ES and libbsm functions, for the tests only.
#include "es_double.h"

#include <bsm/libbsm.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace {

struct ExecStrings {
  std::vector<es_string_token_t> args;
  std::vector<es_string_token_t> env;
};

std::mutex g_mutex;
std::unordered_map<const es_event_exec_t*, ExecStrings> g_exec_strings;

const ExecStrings& stringsOf(const es_event_exec_t* exec) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_exec_strings.find(exec);
  if (it == g_exec_strings.end()) {
    std::fprintf(stderr, "es double: exec event %p has no argv/env registered\n", static_cast<const void*>(exec));
    std::abort();
  }
  return it->second;
}

// Apple calls index >= count undefined behaviour; the double makes it loud.
es_string_token_t at(const std::vector<es_string_token_t>& tokens, uint32_t index, const char* what) {
  if (index >= tokens.size()) {
    std::fprintf(stderr, "es double: %s index %u >= count %zu\n", what, index, tokens.size());
    std::abort();
  }
  return tokens[index];
}

}  // namespace

namespace es_double {

void setExecStrings(const es_event_exec_t* exec, std::vector<es_string_token_t> args,
                    std::vector<es_string_token_t> env) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_exec_strings[exec] = ExecStrings{std::move(args), std::move(env)};
}

void clearExecStrings(const es_event_exec_t* exec) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_exec_strings.erase(exec);
}

}  // namespace es_double

extern "C" {

uint32_t es_exec_arg_count(const es_event_exec_t* event) {
  return static_cast<uint32_t>(stringsOf(event).args.size());
}
uint32_t es_exec_env_count(const es_event_exec_t* event) {
  return static_cast<uint32_t>(stringsOf(event).env.size());
}
es_string_token_t es_exec_arg(const es_event_exec_t* event, uint32_t index) {
  return at(stringsOf(event).args, index, "es_exec_arg");
}
es_string_token_t es_exec_env(const es_event_exec_t* event, uint32_t index) {
  return at(stringsOf(event).env, index, "es_exec_env");
}

// audit_token_t.val: auid, euid, egid, ruid, rgid, pid, asid, pidversion.
au_id_t audit_token_to_auid(audit_token_t t) { return t.val[0]; }
uid_t audit_token_to_euid(audit_token_t t) { return t.val[1]; }
gid_t audit_token_to_egid(audit_token_t t) { return t.val[2]; }
uid_t audit_token_to_ruid(audit_token_t t) { return t.val[3]; }
gid_t audit_token_to_rgid(audit_token_t t) { return t.val[4]; }
pid_t audit_token_to_pid(audit_token_t t) { return static_cast<pid_t>(t.val[5]); }
au_asid_t audit_token_to_asid(audit_token_t t) { return static_cast<au_asid_t>(t.val[6]); }
int audit_token_to_pidversion(audit_token_t t) { return static_cast<int>(t.val[7]); }

}  // extern "C"

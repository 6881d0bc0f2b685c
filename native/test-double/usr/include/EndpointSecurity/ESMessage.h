/*
 * keysentry test double of <EndpointSecurity/ESMessage.h>; see EndpointSecurity.h.
 * "vN" marks a field that exists only when message->version >= N: reading it from an older
 * message reads memory ES never filled (or past the end of the message).
 */
#ifndef KEYSENTRY_DOUBLE_ES_MESSAGE_H
#define KEYSENTRY_DOUBLE_ES_MESSAGE_H

#ifndef __ENDPOINT_SECURITY_INDIRECT__
#error "Include <EndpointSecurity/EndpointSecurity.h>, not this file."
#endif

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <mach/machine.h>
#include <mach/message.h>
#include <os/availability.h>
#include <os/base.h>

/* Paths longer than ES's limit (16 KiB, not API) arrive cut, with path_truncated set. */
typedef struct {
  es_string_token_t path;
  bool path_truncated;
  struct stat stat;
} es_file_t;

typedef struct {
  uint64_t thread_id;
} es_thread_t;

typedef struct {
  audit_token_t audit_token;
  pid_t ppid; /* the headers recommend parent_audit_token (v4) instead */
  pid_t original_ppid;
  pid_t group_id;
  pid_t session_id;
  uint32_t codesigning_flags; /* CS_* bits of <kern/cs_blobs.h> */
  bool is_platform_binary;
  bool is_es_client;
  es_cdhash_t cdhash;
  es_string_token_t signing_id;
  es_string_token_t team_id;
  es_file_t *_Nonnull executable;
  es_file_t *_Nullable tty;                           /* v2 */
  struct timeval start_time;                          /* v3 */
  audit_token_t responsible_audit_token;              /* v4 */
  audit_token_t parent_audit_token;                   /* v4 */
  es_cs_validation_category_t cs_validation_category; /* v10 */
} es_process_t;

/*
 * In a message carrying this event, message->process is the process BEFORE the exec (same pid,
 * older pidversion, old image) and `target` the process after it. Arguments and environment
 * are packed outside the struct: read them only through es_exec_arg / es_exec_env.
 */
typedef struct {
  es_process_t *_Nonnull target;
  es_string_token_t dyld_exec_path; /* v7 */
  union {
    uint8_t reserved[64];
    struct {
      es_file_t *_Nullable script;    /* v2 */
      es_file_t *_Nonnull cwd;        /* v3 */
      int last_fd;                    /* v4 */
      cpu_type_t image_cputype;       /* v6 */
      cpu_subtype_t image_cpusubtype; /* v6 */
    };
  };
} es_event_exec_t;

typedef struct {
  es_process_t *_Nonnull child;
  uint8_t reserved[64];
} es_event_fork_t;

typedef struct {
  int stat; /* wait(2) status */
  uint8_t reserved[64];
} es_event_exit_t;

typedef union {
  es_event_exec_t exec;
  es_event_exit_t exit;
  es_event_fork_t fork;
} es_events_t;

typedef struct {
  es_result_type_t result_type;
  union {
    es_auth_result_t auth;
    uint32_t flags;
    uint8_t reserved[32];
  } result;
} es_result_t;

typedef struct {
  uint32_t version;
  struct timespec time;
  uint64_t mach_time;
  uint64_t deadline;
  es_process_t *_Nonnull process;
  uint64_t seq_num; /* v2: per client and event type, +1 per message; a gap = dropped messages */
  es_action_type_t action_type;
  union {
    es_event_id_t auth;
    es_result_t notify;
  } action;
  es_event_type_t event_type;
  es_events_t event;
  es_thread_t *_Nullable thread; /* v4 */
  uint64_t global_seq_num;       /* v4: per client, across event types */
  uint64_t opaque[];             /* ES's own; never read */
} es_message_t;

__BEGIN_DECLS

OS_EXPORT API_AVAILABLE(macos(11.0)) API_UNAVAILABLE(ios) API_UNAVAILABLE(tvos, watchos)
void es_retain_message(const es_message_t *_Nonnull msg);

OS_EXPORT API_AVAILABLE(macos(11.0)) API_UNAVAILABLE(ios) API_UNAVAILABLE(tvos, watchos)
void es_release_message(const es_message_t *_Nonnull msg);

OS_EXPORT API_AVAILABLE(macos(10.15)) API_UNAVAILABLE(ios) API_UNAVAILABLE(tvos, watchos)
uint32_t es_exec_arg_count(const es_event_exec_t *_Nonnull event);

OS_EXPORT API_AVAILABLE(macos(10.15)) API_UNAVAILABLE(ios) API_UNAVAILABLE(tvos, watchos)
uint32_t es_exec_env_count(const es_event_exec_t *_Nonnull event);

/* index >= es_exec_arg_count(event) is undefined behaviour. */
OS_EXPORT API_AVAILABLE(macos(10.15)) API_UNAVAILABLE(ios) API_UNAVAILABLE(tvos, watchos)
es_string_token_t es_exec_arg(const es_event_exec_t *_Nonnull event, uint32_t index);

OS_EXPORT API_AVAILABLE(macos(10.15)) API_UNAVAILABLE(ios) API_UNAVAILABLE(tvos, watchos)
es_string_token_t es_exec_env(const es_event_exec_t *_Nonnull event, uint32_t index);

__END_DECLS

#endif

/*
 * keysentry test double of <bsm/libbsm.h>: the audit token accessors (libbsm, macOS 10.7+;
 * the pidversion accessor 10.8+). Tokens are passed by value, as in Apple's declarations.
 */
#ifndef KEYSENTRY_DOUBLE_BSM_LIBBSM_H
#define KEYSENTRY_DOUBLE_BSM_LIBBSM_H

#include <stdint.h>
#include <sys/cdefs.h>
#include <sys/types.h>
#include <mach/message.h>
#include <os/availability.h>

typedef uint32_t au_id_t;
typedef int32_t au_asid_t;

__BEGIN_DECLS

API_AVAILABLE(macos(10.7)) au_id_t audit_token_to_auid(audit_token_t atoken);
API_AVAILABLE(macos(10.7)) uid_t audit_token_to_euid(audit_token_t atoken);
API_AVAILABLE(macos(10.7)) gid_t audit_token_to_egid(audit_token_t atoken);
API_AVAILABLE(macos(10.7)) uid_t audit_token_to_ruid(audit_token_t atoken);
API_AVAILABLE(macos(10.7)) gid_t audit_token_to_rgid(audit_token_t atoken);
API_AVAILABLE(macos(10.7)) pid_t audit_token_to_pid(audit_token_t atoken);
API_AVAILABLE(macos(10.7)) au_asid_t audit_token_to_asid(audit_token_t atoken);
API_AVAILABLE(macos(10.8)) int audit_token_to_pidversion(audit_token_t atoken);

__END_DECLS

#endif

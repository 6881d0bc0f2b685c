/*
 * keysentry test double of <mach/message.h>: the audit token only.
 * Layout per Apple's documentation: val[] = auid, euid, egid, ruid, rgid, pid, asid, pidversion;
 * read it through <bsm/libbsm.h>, never by index.
 */
#ifndef KEYSENTRY_DOUBLE_MACH_MESSAGE_H
#define KEYSENTRY_DOUBLE_MACH_MESSAGE_H

typedef unsigned int natural_t;
typedef int integer_t;
typedef natural_t mach_msg_type_number_t;

typedef struct {
  unsigned int val[8];
} audit_token_t;

#endif

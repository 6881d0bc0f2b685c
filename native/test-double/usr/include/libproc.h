/*
 * keysentry test double of <libproc.h>.
 * proc_listallpids returns a COUNT of pids (proc_listpids returns bytes); proc_pidpath returns
 * the path length, 0 on failure; proc_pidinfo returns the bytes it filled.
 */
#ifndef KEYSENTRY_DOUBLE_LIBPROC_H
#define KEYSENTRY_DOUBLE_LIBPROC_H

#include <sys/cdefs.h>
#include <stdint.h>
#include <sys/types.h>
#include <mach/message.h>
#include <os/availability.h>
#include <sys/proc_info.h>

#define PROC_PIDPATHINFO_SIZE (1024)
#define PROC_PIDPATHINFO_MAXSIZE (4 * 1024)

__BEGIN_DECLS

API_AVAILABLE(macos(10.5)) int proc_listpids(uint32_t type, uint32_t typeinfo, void *buffer, int buffersize);
API_AVAILABLE(macos(10.7)) int proc_listallpids(void *buffer, int buffersize);
API_AVAILABLE(macos(10.5)) int proc_pidinfo(int pid, int flavor, uint64_t arg, void *buffer, int buffersize);
API_AVAILABLE(macos(10.5)) int proc_pidpath(int pid, void *buffer, uint32_t buffersize);
API_AVAILABLE(macos(11.0)) int proc_pidpath_audittoken(audit_token_t *audittoken, void *buffer, uint32_t buffersize);

__END_DECLS

#endif

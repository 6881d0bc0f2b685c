/*
 * keysentry test double of <mach/mach.h>: the task calls an ES client uses to learn its own
 * audit token (to mute itself) and, as root, another process's token.
 */
#ifndef KEYSENTRY_DOUBLE_MACH_MACH_H
#define KEYSENTRY_DOUBLE_MACH_MACH_H

#include <sys/cdefs.h>
#include <mach/message.h>

typedef int kern_return_t;
typedef natural_t mach_port_t;
typedef mach_port_t task_t;
typedef mach_port_t task_name_t;
typedef mach_port_t ipc_space_t;
typedef mach_port_t mach_port_name_t;
typedef natural_t task_flavor_t;
typedef integer_t *task_info_t;

#define KERN_SUCCESS 0
#define KERN_FAILURE 5
#define MACH_PORT_NULL ((mach_port_t)0)

#define TASK_AUDIT_TOKEN 15
#define TASK_AUDIT_TOKEN_COUNT (sizeof(audit_token_t) / sizeof(natural_t))

__BEGIN_DECLS

extern mach_port_t mach_task_self_;
#define mach_task_self() mach_task_self_

kern_return_t task_info(task_name_t target_task, task_flavor_t flavor, task_info_t task_info_out,
                        mach_msg_type_number_t *task_info_outCnt);
kern_return_t task_name_for_pid(mach_port_name_t target_tport, int pid, mach_port_name_t *tn);
kern_return_t mach_port_deallocate(ipc_space_t task, mach_port_name_t name);

__END_DECLS

#endif

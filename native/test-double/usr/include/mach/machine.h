/* keysentry test double of <mach/machine.h>: the CPU type integers ES reports for exec images. */
#ifndef KEYSENTRY_DOUBLE_MACH_MACHINE_H
#define KEYSENTRY_DOUBLE_MACH_MACHINE_H

typedef int cpu_type_t;
typedef int cpu_subtype_t;

#endif

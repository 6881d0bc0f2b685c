/*
 * keysentry test double of <os/base.h>: only what the EndpointSecurity double needs.
 * Written from Apple's documented interface; not Apple's file.
 */
#ifndef KEYSENTRY_DOUBLE_OS_BASE_H
#define KEYSENTRY_DOUBLE_OS_BASE_H

#include <sys/cdefs.h>

#define OS_EXPORT extern __attribute__((__visibility__("default")))

/* Nullability qualifiers are clang keywords; g++ (the Linux test build) has none. */
#if !defined(__clang__)
#define _Nonnull
#define _Nullable
#define _Null_unspecified
#endif

#endif

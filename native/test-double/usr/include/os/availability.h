/*
 * keysentry test double of <os/availability.h>.
 *
 * On Apple targets the macros become clang availability attributes, exactly the role the
 * real ones play, so `-Wunguarded-availability-new` flags a call to an API newer than the
 * deployment target. Elsewhere (the Linux test build) they vanish.
 * Supported forms: API_AVAILABLE(p(v)), API_UNAVAILABLE(p[, p]), API_DEPRECATED(msg, p(v1, v2)).
 */
#ifndef KEYSENTRY_DOUBLE_OS_AVAILABILITY_H
#define KEYSENTRY_DOUBLE_OS_AVAILABILITY_H

#if defined(__APPLE__) && defined(__clang__)

#define KS_AV_INTRODUCED_macos(v) macos, introduced = v
#define KS_AV_INTRODUCED_ios(v) ios, introduced = v
#define KS_AV_DEPRECATED_macos(v1, v2) macos, introduced = v1, deprecated = v2
#define KS_AV_DEPRECATED_ios(v1, v2) ios, introduced = v1, deprecated = v2
#define KS_AV_UNAVAILABLE_macos macos, unavailable
#define KS_AV_UNAVAILABLE_ios ios, unavailable
#define KS_AV_UNAVAILABLE_tvos tvos, unavailable
#define KS_AV_UNAVAILABLE_watchos watchos, unavailable

#define KS_AV_PICK(_1, _2, NAME, ...) NAME
#define KS_AV_UNAVAILABLE1(p) __attribute__((availability(KS_AV_UNAVAILABLE_##p)))
#define KS_AV_UNAVAILABLE2(p, q) KS_AV_UNAVAILABLE1(p) KS_AV_UNAVAILABLE1(q)

#define API_AVAILABLE(platform_version) __attribute__((availability(KS_AV_INTRODUCED_##platform_version)))
#define API_UNAVAILABLE(...) KS_AV_PICK(__VA_ARGS__, KS_AV_UNAVAILABLE2, KS_AV_UNAVAILABLE1, )(__VA_ARGS__)
#define API_DEPRECATED(message, platform_versions) \
  __attribute__((availability(KS_AV_DEPRECATED_##platform_versions, message = message)))

#else

#define API_AVAILABLE(...)
#define API_UNAVAILABLE(...)
#define API_DEPRECATED(...)

#endif

#endif

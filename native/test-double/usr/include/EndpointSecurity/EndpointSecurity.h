/*
 * keysentry test double of Apple's <EndpointSecurity/EndpointSecurity.h> (macOS SDK,
 * usr/include/EndpointSecurity/). It declares the part of the API keysentry uses, with the
 * names, field types and order, enum values, message-version gates and availability of the
 * real headers, so code written against it compiles unchanged against the SDK. Written in our
 * own words from Apple's headers and documentation.
 *
 * Only the events keysentry subscribes to (exec, fork, exit) are modelled in es_events_t, so
 * sizeof(es_events_t) is smaller than the SDK's; nothing may depend on that size.
 */
#ifndef KEYSENTRY_DOUBLE_ENDPOINT_SECURITY_H
#define KEYSENTRY_DOUBLE_ENDPOINT_SECURITY_H

#define __ENDPOINT_SECURITY_INDIRECT__
#include <EndpointSecurity/ESTypes.h>
#include <EndpointSecurity/ESMessage.h>
#include <EndpointSecurity/ESClient.h>
#undef __ENDPOINT_SECURITY_INDIRECT__

#endif

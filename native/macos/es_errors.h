// The one actionable message for each way EndpointSecurity can refuse keysentry. Plain C++
// so the Linux tests check every message against the double's es_new_client_result_t.
#pragma once

#include <EndpointSecurity/EndpointSecurity.h>

#include "../core/backend.h"

namespace keysentry {
namespace es {

// BackendError codes, as JavaScript sees them in err.code. `--source auto` falls back to
// eslogger on kNotEntitled only: every other failure would stop eslogger too.
constexpr const char* kNotEntitled = "es-not-entitled";
constexpr const char* kNotPermitted = "es-not-permitted";
constexpr const char* kNotPrivileged = "es-not-privileged";
constexpr const char* kTooManyClients = "es-too-many-clients";
constexpr const char* kInvalidArgument = "es-invalid-argument";
constexpr const char* kInternal = "es-internal";
constexpr const char* kSubscribeFailed = "es-subscribe-failed";
constexpr const char* kMuteFailed = "es-mute-failed";

// `result` must not be ES_NEW_CLIENT_RESULT_SUCCESS.
BackendError newClientError(es_new_client_result_t result);

// es_subscribe or es_mute_process failed on a client that es_new_client had accepted.
BackendError clientSetupError(const char* code, const char* call);

}  // namespace es
}  // namespace keysentry

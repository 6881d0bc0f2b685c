// Test-only controls of the EndpointSecurity/libproc double's Linux implementation. Nothing
// here exists on a Mac; only the tests and the test addon include it.
#pragma once

#include <EndpointSecurity/EndpointSecurity.h>

#include <vector>

namespace es_double {

// Real ES packs argv and env after the message; the double keeps them beside it, keyed by
// the exec event, so a test may put the message itself in guarded memory.
void setExecStrings(const es_event_exec_t* exec, std::vector<es_string_token_t> args,
                    std::vector<es_string_token_t> env);
void clearExecStrings(const es_event_exec_t* exec);

// proc_listallpids(NULL, 0) under-reports by this many pids, as when processes start between
// sizing the buffer and filling it.
void setPidCountShortfall(int missing);

}  // namespace es_double

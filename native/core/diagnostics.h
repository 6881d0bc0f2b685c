// What the platform's capture facility looks like right now, as a JSON object: for
// `keysentry status` and for tests that check the agent left the system as it found it.
#pragma once

#include <string>

namespace keysentry {

// Defined weakly as "{}" in diagnostics.cc; a platform with something to say overrides it.
std::string platformDiagnostics();

}  // namespace keysentry

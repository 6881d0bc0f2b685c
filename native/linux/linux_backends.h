// The Linux backends, created by createBackend() in backends.cc.
#pragma once

#include <memory>

#include "backend.h"

namespace keysentry {

std::unique_ptr<Backend> createAuditBackend(const BackendOptions& options);
// `with_execs` false: forks and exits only (beside audit, which reports the execs).
std::unique_ptr<Backend> createConnectorBackend(const BackendOptions& options, bool with_execs = true);

}  // namespace keysentry

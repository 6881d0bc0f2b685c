// The Linux backends, created by createBackend() in backends.cc.
#pragma once

#include <memory>

#include "backend.h"

namespace keysentry {

std::unique_ptr<Backend> createAuditBackend(const BackendOptions& options);
std::unique_ptr<Backend> createConnectorBackend(const BackendOptions& options);

}  // namespace keysentry

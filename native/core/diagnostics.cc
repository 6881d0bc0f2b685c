#include "diagnostics.h"

namespace keysentry {

__attribute__((weak)) std::string platformDiagnostics() { return "{}"; }

}  // namespace keysentry

#include "es_errors.h"

#include <string>

namespace keysentry {
namespace es {

BackendError newClientError(es_new_client_result_t result) {
  switch (result) {
    case ES_NEW_CLIENT_RESULT_ERR_NOT_ENTITLED:
      return BackendError(
          kNotEntitled,
          "EndpointSecurity refused keysentry: the running executable is not signed with the "
          "com.apple.developer.endpoint-security.client entitlement. Apple grants that entitlement to a team; it must "
          "sit on the main executable (keysentry.app/Contents/MacOS/keysentry), never on a .node addon, together "
          "with the provisioning profile that allows it as keysentry.app/Contents/embedded.provisionprofile: build "
          "the bundle with `scripts/package-macos.sh --identity \"Developer ID Application: ...\" --profile "
          "keysentry.provisionprofile`. Without the entitlement use `keysentry run --source eslogger` (macOS 13+), "
          "or `--source auto` to fall back to it automatically.");
    case ES_NEW_CLIENT_RESULT_ERR_NOT_PERMITTED:
      return BackendError(
          kNotPermitted,
          "EndpointSecurity refused keysentry: it has no Full Disk Access. Grant it in System Settings > Privacy & "
          "Security > Full Disk Access to the process that starts keysentry (keysentry.app, or the terminal you run "
          "it from): open x-apple.systempreferences:com.apple.settings.PrivacySecurity.extension?Privacy_AllFiles "
          "(macOS 13+) or x-apple.systempreferences:com.apple.preference.security?Privacy_AllFiles (macOS 11-12). "
          "On managed Macs deploy an MDM privacy (PPPC) profile granting SystemPolicyAllFiles to keysentry's bundle "
          "id and code requirement (`scripts/package-macos.sh --team-id` writes one, keysentry-pppc.mobileconfig); a "
          "locally installed profile is refused. Then restart keysentry.");
    case ES_NEW_CLIENT_RESULT_ERR_NOT_PRIVILEGED:
      return BackendError(kNotPrivileged,
                          "EndpointSecurity needs root: run keysentry as root (the launchd daemon in "
                          "/Library/LaunchDaemons does; by hand, `sudo keysentry run`).");
    case ES_NEW_CLIENT_RESULT_ERR_TOO_MANY_CLIENTS:
      return BackendError(kTooManyClients,
                          "EndpointSecurity has reached its limit of simultaneous clients on this Mac. Stop an "
                          "EndpointSecurity client you do not need (a leftover `eslogger`, or a security tool listed "
                          "under System Settings > General > Login Items & Extensions > Endpoint Security "
                          "Extensions), then restart keysentry.");
    case ES_NEW_CLIENT_RESULT_ERR_INVALID_ARGUMENT:
      return BackendError(kInvalidArgument,
                          "es_new_client rejected its arguments (ES_NEW_CLIENT_RESULT_ERR_INVALID_ARGUMENT). This is a "
                          "keysentry bug: report it with the macOS version (`sw_vers`).");
    case ES_NEW_CLIENT_RESULT_ERR_INTERNAL:
      return BackendError(kInternal,
                          "keysentry could not reach the EndpointSecurity subsystem "
                          "(ES_NEW_CLIENT_RESULT_ERR_INTERNAL). Retry; if it persists, look for endpointsecurityd "
                          "errors with `log show --last 10m --predicate 'process == \"endpointsecurityd\"'` and "
                          "restart the Mac.");
    default:
      return BackendError(kInternal, "es_new_client failed with result " + std::to_string(static_cast<int>(result)) +
                                         ", which this keysentry does not know: report it with the macOS version.");
  }
}

BackendError clientSetupError(const char* code, const char* call) {
  return BackendError(code, std::string("EndpointSecurity accepted keysentry's client but ") + call +
                                " failed; keysentry stopped rather than run half-configured. Retry; if it persists, "
                                "report it with the macOS version (`sw_vers`).");
}

}  // namespace es
}  // namespace keysentry

/* keysentry test double of <EndpointSecurity/ESClient.h>; see EndpointSecurity.h. */
#ifndef KEYSENTRY_DOUBLE_ES_CLIENT_H
#define KEYSENTRY_DOUBLE_ES_CLIENT_H

#ifndef __ENDPOINT_SECURITY_INDIRECT__
#error "Include <EndpointSecurity/EndpointSecurity.h>, not this file."
#endif

#include <os/availability.h>
#include <os/base.h>

struct es_client_s;
typedef struct es_client_s es_client_t;

__BEGIN_DECLS

OS_EXPORT API_AVAILABLE(macos(10.15)) API_UNAVAILABLE(ios) API_UNAVAILABLE(tvos, watchos)
es_return_t es_subscribe(es_client_t *_Nonnull client, const es_event_type_t *_Nonnull events, uint32_t event_count);

OS_EXPORT API_AVAILABLE(macos(10.15)) API_UNAVAILABLE(ios) API_UNAVAILABLE(tvos, watchos)
es_return_t es_unsubscribe(es_client_t *_Nonnull client, const es_event_type_t *_Nonnull events, uint32_t event_count);

OS_EXPORT API_AVAILABLE(macos(10.15)) API_UNAVAILABLE(ios) API_UNAVAILABLE(tvos, watchos)
es_return_t es_unsubscribe_all(es_client_t *_Nonnull client);

OS_EXPORT API_AVAILABLE(macos(10.15)) API_UNAVAILABLE(ios) API_UNAVAILABLE(tvos, watchos)
es_return_t es_mute_process(es_client_t *_Nonnull client, const audit_token_t *_Nonnull audit_token);

OS_EXPORT API_AVAILABLE(macos(12.0)) API_UNAVAILABLE(ios) API_UNAVAILABLE(tvos, watchos)
es_return_t es_mute_process_events(es_client_t *_Nonnull client, const audit_token_t *_Nonnull audit_token,
                                   const es_event_type_t *_Nonnull events, size_t event_count);

OS_EXPORT API_AVAILABLE(macos(12.0)) API_UNAVAILABLE(ios) API_UNAVAILABLE(tvos, watchos)
es_return_t es_mute_path_events(es_client_t *_Nonnull client, const char *_Nonnull path, es_mute_path_type_t type,
                                const es_event_type_t *_Nonnull events, size_t event_count);

/* The handler is a block: only a compiler with blocks (clang -fblocks) can create a client. */
#if defined(__BLOCKS__)
typedef void (^es_handler_block_t)(es_client_t *_Nonnull, const es_message_t *_Nonnull);

/*
 * Messages reach the handler strictly serially; one is valid only inside the handler unless
 * retained. Requires the com.apple.developer.endpoint-security.client entitlement, root, and
 * Full Disk Access (TCC) for the responsible process.
 */
OS_EXPORT API_AVAILABLE(macos(10.15)) API_UNAVAILABLE(ios) API_UNAVAILABLE(tvos, watchos)
es_new_client_result_t es_new_client(es_client_t *_Nullable *_Nonnull client, es_handler_block_t _Nonnull handler);
#endif

/* Must be called from the thread that called es_new_client. */
OS_EXPORT API_AVAILABLE(macos(10.15)) API_UNAVAILABLE(ios) API_UNAVAILABLE(tvos, watchos)
es_return_t es_delete_client(es_client_t *_Nullable client);

__END_DECLS

#endif

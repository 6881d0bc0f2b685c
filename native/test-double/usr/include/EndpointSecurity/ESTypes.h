/* keysentry test double of <EndpointSecurity/ESTypes.h>; see EndpointSecurity.h. */
#ifndef KEYSENTRY_DOUBLE_ES_TYPES_H
#define KEYSENTRY_DOUBLE_ES_TYPES_H

#ifndef __ENDPOINT_SECURITY_INDIRECT__
#error "Include <EndpointSecurity/EndpointSecurity.h>, not this file."
#endif

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <mach/message.h>
#include <os/availability.h>
#include <os/base.h>

typedef struct {
  uint8_t reserved[32];
} es_event_id_t;

typedef enum { ES_ACTION_TYPE_AUTH = 0, ES_ACTION_TYPE_NOTIFY = 1 } es_action_type_t;

/* The macOS 10.15 block of event types, in Apple's order (the enum continues in the SDK). */
typedef enum {
  ES_EVENT_TYPE_AUTH_EXEC = 0,
  ES_EVENT_TYPE_AUTH_OPEN = 1,
  ES_EVENT_TYPE_AUTH_KEXTLOAD = 2,
  ES_EVENT_TYPE_AUTH_MMAP = 3,
  ES_EVENT_TYPE_AUTH_MPROTECT = 4,
  ES_EVENT_TYPE_AUTH_MOUNT = 5,
  ES_EVENT_TYPE_AUTH_RENAME = 6,
  ES_EVENT_TYPE_AUTH_SIGNAL = 7,
  ES_EVENT_TYPE_AUTH_UNLINK = 8,
  ES_EVENT_TYPE_NOTIFY_EXEC = 9,
  ES_EVENT_TYPE_NOTIFY_OPEN = 10,
  ES_EVENT_TYPE_NOTIFY_FORK = 11,
  ES_EVENT_TYPE_NOTIFY_CLOSE = 12,
  ES_EVENT_TYPE_NOTIFY_CREATE = 13,
  ES_EVENT_TYPE_NOTIFY_EXCHANGEDATA = 14,
  ES_EVENT_TYPE_NOTIFY_EXIT = 15
} es_event_type_t;

typedef enum { ES_AUTH_RESULT_ALLOW = 0, ES_AUTH_RESULT_DENY = 1 } es_auth_result_t;

typedef enum { ES_RESULT_TYPE_AUTH = 0, ES_RESULT_TYPE_FLAGS = 1 } es_result_type_t;

typedef enum { ES_RETURN_SUCCESS = 0, ES_RETURN_ERROR = 1 } es_return_t;

typedef enum {
  ES_NEW_CLIENT_RESULT_SUCCESS = 0,
  ES_NEW_CLIENT_RESULT_ERR_INVALID_ARGUMENT = 1,
  ES_NEW_CLIENT_RESULT_ERR_INTERNAL = 2,
  ES_NEW_CLIENT_RESULT_ERR_NOT_ENTITLED = 3,
  ES_NEW_CLIENT_RESULT_ERR_NOT_PERMITTED = 4,
  ES_NEW_CLIENT_RESULT_ERR_NOT_PRIVILEGED = 5,
  ES_NEW_CLIENT_RESULT_ERR_TOO_MANY_CLIENTS = 6
} es_new_client_result_t;

typedef uint8_t es_cdhash_t[20];

typedef struct {
  size_t size;
  const uint8_t *_Nullable data;
} es_token_t;

/* `length` bytes at `data`; NOT NUL-terminated. */
typedef struct {
  size_t length;
  const char *_Nullable data;
} es_string_token_t;

typedef enum {
  ES_MUTE_PATH_TYPE_PREFIX = 0,
  ES_MUTE_PATH_TYPE_LITERAL = 1,
  ES_MUTE_PATH_TYPE_TARGET_PREFIX API_AVAILABLE(macos(13.0)) = 2,
  ES_MUTE_PATH_TYPE_TARGET_LITERAL API_AVAILABLE(macos(13.0)) = 3
} es_mute_path_type_t;

typedef enum {
  ES_CS_VALIDATION_CATEGORY_INVALID = 0,
  ES_CS_VALIDATION_CATEGORY_PLATFORM = 1,
  ES_CS_VALIDATION_CATEGORY_TESTFLIGHT = 2,
  ES_CS_VALIDATION_CATEGORY_DEVELOPMENT = 3,
  ES_CS_VALIDATION_CATEGORY_APP_STORE = 4,
  ES_CS_VALIDATION_CATEGORY_ENTERPRISE = 5,
  ES_CS_VALIDATION_CATEGORY_DEVELOPER_ID = 6,
  ES_CS_VALIDATION_CATEGORY_LOCAL_SIGNING = 7,
  ES_CS_VALIDATION_CATEGORY_ROSETTA = 8,
  ES_CS_VALIDATION_CATEGORY_OOPJIT = 9,
  ES_CS_VALIDATION_CATEGORY_NONE = 10
} es_cs_validation_category_t;

#endif

// Test-only controls and observations of the double's EndpointSecurity client calls
// (es_client_linux.cc): what the fake ES subsystem answers, and what the backend did to it.
#pragma once

#include <EndpointSecurity/EndpointSecurity.h>

#include <thread>
#include <vector>

namespace es_double {

struct ClientAnswers {
  es_new_client_result_t new_client = ES_NEW_CLIENT_RESULT_SUCCESS;
  es_return_t mute = ES_RETURN_SUCCESS;
  es_return_t subscribe = ES_RETURN_SUCCESS;
};

// What happened to the most recent client.
struct ClientLog {
  bool created = false;
  bool unsubscribed_all = false;
  bool deleted = false;
  bool unsubscribed_before_delete = false;
  std::thread::id created_on;
  std::thread::id deleted_on;
  std::vector<es_event_type_t> subscribed;
  std::vector<pid_t> muted_pids;
  unsigned handler_calls = 0;
  unsigned calls_after_delete = 0;  // the fake refuses them, but counts attempts
};

void setClientAnswers(const ClientAnswers& answers);
ClientLog clientLog();

// Queues a message for the live client's handler, called on ES's own delivery thread, one
// message at a time. `drain` waits until every queued message was handled.
void deliver(const es_message_t* message);
void drain();

}  // namespace es_double

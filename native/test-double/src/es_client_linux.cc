// Linux implementation of the double's client calls for the backend lifecycle test: a fake
// EndpointSecurity subsystem that delivers messages to the handler block on a thread of its
// own, serially, as ES does, and records what the backend asked of it. Needs clang -fblocks
// and libBlocksRuntime.
#include <Block.h>
#include <bsm/libbsm.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "es_client_double.h"

struct es_client_s {
  es_handler_block_t handler = nullptr;
  std::deque<const es_message_t*> queue;
  bool busy = false;
  bool closing = false;
  std::thread delivery;
};

namespace {

std::mutex g_mutex;
std::condition_variable g_cv;
es_double::ClientAnswers g_answers;
es_double::ClientLog g_log;
es_client_t* g_live = nullptr;

void deliveryLoop(es_client_t* client) {
  std::unique_lock<std::mutex> lock(g_mutex);
  for (;;) {
    g_cv.wait(lock, [client] { return client->closing || !client->queue.empty(); });
    if (client->queue.empty()) return;
    const es_message_t* message = client->queue.front();
    client->queue.pop_front();
    client->busy = true;
    g_log.handler_calls++;
    lock.unlock();
    client->handler(client, message);
    lock.lock();
    client->busy = false;
    g_cv.notify_all();
  }
}

}  // namespace

namespace es_double {

void setClientAnswers(const ClientAnswers& answers) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_answers = answers;
}

ClientLog clientLog() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_log;
}

void deliver(const es_message_t* message) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_live == nullptr) {
    g_log.calls_after_delete++;
    return;
  }
  g_live->queue.push_back(message);
  g_cv.notify_all();
}

void drain() {
  std::unique_lock<std::mutex> lock(g_mutex);
  g_cv.wait(lock, [] { return g_live == nullptr || (g_live->queue.empty() && !g_live->busy); });
}

}  // namespace es_double

extern "C" {

es_new_client_result_t es_new_client(es_client_t** client, es_handler_block_t handler) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_log = es_double::ClientLog();
  if (g_answers.new_client != ES_NEW_CLIENT_RESULT_SUCCESS) return g_answers.new_client;
  es_client_t* c = new es_client_t;
  c->handler = Block_copy(handler);
  c->delivery = std::thread(deliveryLoop, c);
  g_live = c;
  g_log.created = true;
  g_log.created_on = std::this_thread::get_id();
  *client = c;
  return ES_NEW_CLIENT_RESULT_SUCCESS;
}

es_return_t es_mute_process(es_client_t*, const audit_token_t* token) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_log.muted_pids.push_back(audit_token_to_pid(*token));
  return g_answers.mute;
}

es_return_t es_subscribe(es_client_t*, const es_event_type_t* events, uint32_t count) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_log.subscribed.assign(events, events + count);
  return g_answers.subscribe;
}

es_return_t es_unsubscribe_all(es_client_t*) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_log.unsubscribed_all = true;
  g_log.subscribed.clear();
  return ES_RETURN_SUCCESS;
}

// Like ES: once it returns, the handler is not running and will not run again.
es_return_t es_delete_client(es_client_t* client) {
  if (client == nullptr) return ES_RETURN_ERROR;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    client->closing = true;
    client->queue.clear();
    g_cv.notify_all();
  }
  client->delivery.join();
  std::lock_guard<std::mutex> lock(g_mutex);
  g_log.deleted = true;
  g_log.deleted_on = std::this_thread::get_id();
  g_log.unsubscribed_before_delete = g_log.unsubscribed_all;
  Block_release(client->handler);
  if (g_live == client) g_live = nullptr;
  delete client;
  g_cv.notify_all();
  return ES_RETURN_SUCCESS;
}

}  // extern "C"

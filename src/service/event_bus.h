// EventBus: feeds live subscribers (the SSE endpoints) from the store's outbox.
//
// Every change the store commits is also an outbox entry (store::ChangeEvent) in one global
// order, written in the same transaction, so a crash neither loses nor invents a
// notification. The bus reads new entries when the store says it committed some
// (RunStore::SetOutboxListener) and on a short poll as a fallback, keeps the most recent ones
// in memory, and tells each subscription whose filter matches that it has something to read.
// A subscription that asks to resume after an event id (SSE Last-Event-ID) is served the
// entries after it, from memory or from the store, before the live ones: no gap, no
// duplicate. The bus also prunes the outbox by age, in small batches.
//
// Thread-safety: thread-safe. Subscription callbacks run on the bus thread and must not
// block (an HTTP connection posts to its own strand and calls Read from there).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/state.h"
#include "common/status.h"
#include "store/run_store.h"

namespace sluice::service {

struct EventFilter {
  std::string run_id;         // "": every run
  std::vector<State> states;  // the event's new state (`to`) is one of these; empty: any
  // Every (key, value) is a tag of the event's run; empty: any
  std::vector<std::pair<std::string, std::string>> tags;

  bool Matches(const store::ChangeEvent& e) const;
};

class Subscription {
 public:
  virtual ~Subscription() = default;
  // Up to `max` matching events after the last one returned (or after the resume point),
  // oldest first; empty when there is nothing new. kOutOfRange when the subscriber fell so
  // far behind that entries it has not read were pruned (it must start over).
  virtual Result<std::vector<store::ChangeEvent>> Read(int max) = 0;
  // The seq of the last event this subscription has passed (returned or skipped as not
  // matching): a client that reconnects with it as Last-Event-ID misses nothing.
  virtual int64_t Position() const = 0;
};

struct EventBusOptions {
  int memory_events = 10000;   // most recent entries kept in memory for subscribers
  Micros poll = 1 * kMicrosPerSecond;  // fallback read of the outbox without a notification
  Micros outbox_retention = 24 * 3600 * kMicrosPerSecond;  // entries older are pruned
  int prune_batch = 1000;
};

class EventBus {
 public:
  EventBus(store::RunStore& store, const Clock& clock, EventBusOptions options);
  ~EventBus();

  // Registers with the store's outbox listener and starts the bus thread.
  Status Start();
  void Stop();

  // `after`: resume after this event id (Last-Event-ID); nullopt: only events committed from
  // now on. kOutOfRange if `after` is older than the oldest entry kept (the gap cannot be
  // filled). `on_ready` is called (on the bus thread) whenever Read may return something new;
  // it is called once right away if the resume backlog is not empty. Dropping the returned
  // pointer unsubscribes.
  Result<std::shared_ptr<Subscription>> Subscribe(EventFilter filter,
                                                  std::optional<int64_t> after,
                                                  std::function<void()> on_ready);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::service

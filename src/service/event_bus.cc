#include "service/event_bus.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <list>
#include <thread>

#include "common/thread_annotations.h"
#include "common/thread_name.h"

namespace sluice::service {

bool EventFilter::Matches(const store::ChangeEvent& e) const {
  if (!run_id.empty() && e.run_id != run_id) return false;
  if (!states.empty() && std::find(states.begin(), states.end(), e.to) == states.end()) {
    return false;
  }
  for (const auto& [key, value] : tags) {
    auto it = e.tags.find(key);
    if (it == e.tags.end() || it->second != value) return false;
  }
  return true;
}

namespace {

constexpr int kStoreReadBatch = 500;
// Between two prune batches while there is a backlog to prune, and between prune rounds.
constexpr Micros kPruneBatchPause = 20'000;
constexpr Micros kPruneEvery = 60 * kMicrosPerSecond;

class SubscriptionImpl;

// What the bus thread and the subscriptions share. Subscriptions keep it alive, so one that
// outlives the EventBus reads from the store only (and never gets on_ready again).
struct Core {
  Core(store::RunStore& s, const Clock& c, EventBusOptions o)
      : store(s), clock(c), options(o) {}

  store::RunStore& store;
  const Clock& clock;
  const EventBusOptions options;

  Mutex mu;
  std::condition_variable cv;
  bool notified GUARDED_BY(mu) = false;
  bool stopping GUARDED_BY(mu) = false;
  // Every entry with seq > ring_floor and <= last_seq is in the ring, oldest first.
  std::deque<store::ChangeEvent> ring GUARDED_BY(mu);
  int64_t ring_floor GUARDED_BY(mu) = 0;
  int64_t last_seq GUARDED_BY(mu) = 0;
  std::list<std::weak_ptr<SubscriptionImpl>> subs GUARDED_BY(mu);
  // Subscriptions to tell at once (a resume backlog), on the bus thread.
  std::vector<std::weak_ptr<SubscriptionImpl>> kick GUARDED_BY(mu);

  void Notify() {
    {
      MutexLock lock(mu);
      notified = true;
    }
    cv.notify_one();
  }
};

class SubscriptionImpl final : public Subscription {
 public:
  SubscriptionImpl(std::shared_ptr<Core> core, EventFilter filter, int64_t position,
                   std::function<void()> on_ready)
      : core_(std::move(core)),
        filter_(std::move(filter)),
        on_ready_(std::move(on_ready)),
        position_(position) {}

  Result<std::vector<store::ChangeEvent>> Read(int max) override {
    std::vector<store::ChangeEvent> out;
    if (max <= 0) return out;
    MutexLock read_lock(read_mu_);
    int64_t pos = position_.load();
    // From memory when the ring holds everything after our position.
    {
      MutexLock lock(core_->mu);
      if (pos >= core_->ring_floor) {
        auto it = std::upper_bound(
            core_->ring.begin(), core_->ring.end(), pos,
            [](int64_t seq, const store::ChangeEvent& e) { return seq < e.seq; });
        for (; it != core_->ring.end() && static_cast<int>(out.size()) < max; ++it) {
          pos = it->seq;
          if (filter_.Matches(*it)) out.push_back(*it);
        }
        if (it == core_->ring.end()) pos = std::max(pos, core_->last_seq);
        position_.store(pos);
        return out;
      }
    }
    // Fell behind the ring: from the store, up to where the ring takes over.
    ASSIGN_OR_RETURN(store::OutboxBounds bounds, core_->store.GetOutboxBounds());
    if (Gap(bounds, pos)) {
      return OutOfRange("events after " + std::to_string(pos) +
                        " were pruned from the outbox; start over");
    }
    while (static_cast<int>(out.size()) < max) {
      ASSIGN_OR_RETURN(std::vector<store::ChangeEvent> batch,
                       core_->store.ReadOutbox(pos, kStoreReadBatch));
      if (batch.empty()) break;
      size_t i = 0;
      for (; i < batch.size() && static_cast<int>(out.size()) < max; ++i) {
        pos = batch[i].seq;
        if (filter_.Matches(batch[i])) out.push_back(std::move(batch[i]));
      }
      if (i < batch.size() || static_cast<int>(batch.size()) < kStoreReadBatch) break;
    }
    position_.store(pos);
    return out;
  }

  int64_t Position() const override { return position_.load(); }

  // On the bus thread: tells the subscriber if one of `fresh` (newly read entries) is for it.
  void Offer(const std::vector<store::ChangeEvent>& fresh) {
    const int64_t pos = position_.load();
    for (const auto& e : fresh) {
      if (e.seq > pos && filter_.Matches(e)) {
        Ready();
        return;
      }
    }
  }

  void Ready() {
    if (!on_ready_) return;
    try {
      on_ready_();
    } catch (const std::exception& e) {
      spdlog::error("event bus: subscriber callback threw: {}", e.what());
    }
  }

  // Entries after `pos` were pruned: the oldest kept one is not the next, or none is kept
  // though some were written after `pos`.
  static bool Gap(const store::OutboxBounds& b, int64_t pos) {
    if (pos >= b.last_seq) return false;
    if (b.oldest_seq == 0) return true;
    return b.oldest_seq > pos + 1;
  }

 private:
  std::shared_ptr<Core> core_;
  const EventFilter filter_;
  const std::function<void()> on_ready_;
  Mutex read_mu_;  // one Read at a time
  std::atomic<int64_t> position_;
};

}  // namespace

class EventBus::Impl {
 public:
  Impl(store::RunStore& store, const Clock& clock, EventBusOptions options)
      : core_(std::make_shared<Core>(store, clock, options)) {}

  ~Impl() { Stop(); }

  Status Start() {
    if (thread_.joinable()) return FailedPrecondition("event bus: already started");
    ASSIGN_OR_RETURN(store::OutboxBounds bounds, core_->store.GetOutboxBounds());
    {
      MutexLock lock(core_->mu);
      core_->stopping = false;
      core_->last_seq = bounds.last_seq;
      core_->ring_floor = bounds.last_seq;
      core_->ring.clear();
    }
    std::weak_ptr<Core> weak = core_;
    core_->store.SetOutboxListener([weak] {
      if (auto core = weak.lock()) core->Notify();
    });
    try {
      thread_ = std::thread([this] { Loop(); });
    } catch (const std::system_error& e) {
      core_->store.SetOutboxListener(nullptr);
      return ResourceExhausted(std::string("event bus: cannot start its thread: ") + e.what());
    }
    return Status::Ok();
  }

  void Stop() {
    if (!thread_.joinable()) return;
    core_->store.SetOutboxListener(nullptr);
    {
      MutexLock lock(core_->mu);
      core_->stopping = true;
    }
    core_->cv.notify_all();
    thread_.join();
  }

  Result<std::shared_ptr<Subscription>> Subscribe(EventFilter filter,
                                                  std::optional<int64_t> after,
                                                  std::function<void()> on_ready) {
    int64_t position = 0;
    bool backlog = false;
    if (after.has_value()) {
      if (*after < 0) return InvalidArgument("Last-Event-ID: must not be negative");
      ASSIGN_OR_RETURN(store::OutboxBounds bounds, core_->store.GetOutboxBounds());
      if (SubscriptionImpl::Gap(bounds, *after)) {
        return OutOfRange("Last-Event-ID " + std::to_string(*after) +
                          ": the events after it were pruned; start over");
      }
      // An id from the future (another database?) resumes from now.
      position = std::min(*after, bounds.last_seq);
      backlog = position < bounds.last_seq;
    } else {
      Result<store::OutboxBounds> bounds = core_->store.GetOutboxBounds();
      MutexLock lock(core_->mu);
      position = bounds.ok() ? std::max(bounds->last_seq, core_->last_seq) : core_->last_seq;
    }
    auto sub = std::make_shared<SubscriptionImpl>(core_, std::move(filter), position,
                                                  std::move(on_ready));
    {
      MutexLock lock(core_->mu);
      core_->subs.push_back(sub);
      if (backlog) {
        core_->kick.push_back(sub);
        core_->notified = true;
      }
    }
    if (backlog) core_->cv.notify_one();
    return std::shared_ptr<Subscription>(sub);
  }

 private:
  void Loop() {
    NameThisThread("event-bus");
    const Micros poll = std::max<Micros>(core_->options.poll, 1000);
    Micros next_prune = core_->clock.Monotonic() + kPruneBatchPause;
    while (true) {
      std::vector<std::weak_ptr<SubscriptionImpl>> kick;
      int64_t after;
      {
        MutexLock lock(core_->mu);
        Micros wait = std::min(poll, std::max<Micros>(0, next_prune - core_->clock.Monotonic()));
        lock.WaitFor(core_->cv, std::chrono::microseconds(wait),
                     [this]() NO_THREAD_SAFETY_ANALYSIS {
                       return core_->stopping || core_->notified;
                     });
        if (core_->stopping) return;
        core_->notified = false;
        kick.swap(core_->kick);
        after = core_->last_seq;
      }
      for (const auto& weak : kick) {
        if (auto sub = weak.lock()) sub->Ready();
      }
      ReadNew(after);
      if (core_->clock.Monotonic() >= next_prune) {
        next_prune = core_->clock.Monotonic() + (PruneOnce() ? kPruneBatchPause : kPruneEvery);
      }
    }
  }

  // Reads what was committed after `after` into the ring and tells the subscriptions.
  void ReadNew(int64_t after) {
    while (true) {
      Result<std::vector<store::ChangeEvent>> fresh =
          core_->store.ReadOutbox(after, kStoreReadBatch);
      if (!fresh.ok()) {
        spdlog::warn("event bus: reading the outbox: {}", fresh.status().ToString());
        return;
      }
      if (fresh->empty()) return;
      std::vector<std::shared_ptr<SubscriptionImpl>> subs;
      {
        MutexLock lock(core_->mu);
        for (const auto& e : *fresh) core_->ring.push_back(e);
        core_->last_seq = fresh->back().seq;
        const size_t keep = static_cast<size_t>(std::max(1, core_->options.memory_events));
        while (core_->ring.size() > keep) {
          core_->ring_floor = core_->ring.front().seq;
          core_->ring.pop_front();
        }
        for (auto it = core_->subs.begin(); it != core_->subs.end();) {
          if (auto sub = it->lock()) {
            subs.push_back(std::move(sub));
            ++it;
          } else {
            it = core_->subs.erase(it);  // dropped by its owner
          }
        }
      }
      for (const auto& sub : subs) sub->Offer(*fresh);
      after = fresh->back().seq;
      if (static_cast<int>(fresh->size()) < kStoreReadBatch) return;
    }
  }

  // One small batch of pruning; true if there may be more to prune.
  bool PruneOnce() {
    const int batch = std::max(1, core_->options.prune_batch);
    Result<int64_t> pruned =
        core_->store.PruneOutbox(core_->clock.Now() - core_->options.outbox_retention, batch);
    if (!pruned.ok()) {
      spdlog::warn("event bus: pruning the outbox: {}", pruned.status().ToString());
      return false;
    }
    return *pruned >= batch;
  }

  std::shared_ptr<Core> core_;
  std::thread thread_;
};

EventBus::EventBus(store::RunStore& store, const Clock& clock, EventBusOptions options)
    : impl_(std::make_unique<Impl>(store, clock, options)) {}

EventBus::~EventBus() = default;

Status EventBus::Start() { return impl_->Start(); }
void EventBus::Stop() { impl_->Stop(); }

Result<std::shared_ptr<Subscription>> EventBus::Subscribe(EventFilter filter,
                                                          std::optional<int64_t> after,
                                                          std::function<void()> on_ready) {
  return impl_->Subscribe(std::move(filter), after, std::move(on_ready));
}

}  // namespace sluice::service

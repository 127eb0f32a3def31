// FakeRunStore: a hand-written in-memory RunStore for tests of the layers above the store.
// It keeps everything in maps behind one mutex and follows the RunStore contract exactly
// (it passes testing/store_conformance.h); "durable" simply means "in the maps".
//
// Thread-safety: thread-safe; every method takes the one mutex. The outbox listener is called
// from a notifier thread of the fake's own (started by SetOutboxListener), never with the
// mutex held, shortly after the write that added entries returned.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/thread_annotations.h"
#include "store/run_store.h"
#include "store/stats_rollup.h"

namespace sluice::store {

class FakeRunStore final : public RunStore {
 public:
  FakeRunStore() = default;
  ~FakeRunStore() override;

  // Fault injection: the next `n` GetRun calls return `st` (a database briefly unreachable).
  void FailNextGetRuns(int n, Status st);
  // The CreateTask or CreateTasks call that includes `task_id` (of any run) returns `st`
  // instead, creating nothing, once.
  void FailCreateTaskOnce(std::string task_id, Status st);

  Result<CreateRunResult> CreateRun(const NewRun& run) override;
  Result<RunRecord> GetRun(std::string_view run_id) override;
  Result<RunStatusRow> GetRunStatus(std::string_view run_id) override;
  Result<RunPage> ListRuns(const RunListQuery& query) override;
  Result<std::map<State, int64_t>> CountRunsByState() override;
  Result<TransitionOutcome> TransitionRun(const RunTransition& t) override;
  Result<std::vector<bool>> CreateTasks(const std::vector<TaskRecord>& tasks) override;
  Result<TaskRecord> GetTask(std::string_view run_id, std::string_view task_id) override;
  Result<TaskPage> ListTasks(const TaskListQuery& query) override;
  Result<TransitionOutcome> TransitionTask(const TaskTransition& t) override;
  Result<HistoryPage> ListHistory(const HistoryQuery& query) override;
  Result<int64_t> AppendRunEvents(std::string_view run_id,
                                  const std::vector<RunEvent>& events) override;
  Result<RunEventPage> ListRunEvents(const RunEventQuery& query) override;
  Result<std::vector<RunRecord>> ClaimRuns(const ClaimRequest& req) override;
  Status RenewLeases(std::string_view owner, Micros lease_until) override;
  Result<RunCount> CountRuns(const RunFilter& filter) override;
  Result<RunRecord> UpdateTags(std::string_view run_id, const StringMap& set,
                               const std::vector<std::string>& remove, Micros at) override;
  Status DeleteRun(std::string_view run_id) override;
  Result<std::vector<EndedRun>> ListEndedRuns(const EndedRunQuery& query) override;
  Result<std::vector<StatsGroup>> QueryStats(const StatsQuery& query) override;
  Result<std::vector<ChangeEvent>> ReadOutbox(int64_t after_seq, int limit) override;
  Result<OutboxBounds> GetOutboxBounds() override;
  Result<int64_t> PruneOutbox(Micros before, int limit) override;
  std::vector<Result<TransitionOutcome>> TransitionTasks(
      const std::vector<TaskTransition>& ts) override;
  Result<std::vector<TaskRecord>> ListStaleTasks(Micros updated_before, int limit) override;
  void SetOutboxListener(std::function<void()> listener) override;

 private:
  RunRecord* FindRun(std::string_view run_id) REQUIRES(mu_);
  void AppendHistory(const std::string& run_id, const std::string& task_id, std::string type,
                     State from, State to, Micros at, std::string reason) REQUIRES(mu_);
  // Outbox, state sync and stats (issue 4).
  void AppendOutbox(ChangeEvent e) REQUIRES(mu_);
  Result<TransitionOutcome> TransitionTaskLocked(const TaskTransition& t) REQUIRES(mu_);
  void AddRunToStats(const RunRecord& run, State to, const RunUsage* usage) REQUIRES(mu_);
  void NotifyLoop();

  Mutex mu_;
  int fail_get_runs_ GUARDED_BY(mu_) = 0;
  std::string fail_create_task_id_ GUARDED_BY(mu_);
  Status fail_create_task_status_ GUARDED_BY(mu_);
  Status fail_get_run_status_ GUARDED_BY(mu_);
  int64_t next_run_seq_ GUARDED_BY(mu_) = 1;
  int64_t next_task_seq_ GUARDED_BY(mu_) = 1;
  int64_t next_history_seq_ GUARDED_BY(mu_) = 1;
  std::map<int64_t, RunRecord> runs_ GUARDED_BY(mu_);  // by seq
  std::unordered_map<std::string, int64_t> run_seq_by_id_ GUARDED_BY(mu_);
  std::unordered_map<std::string, int64_t> run_seq_by_key_ GUARDED_BY(mu_);
  // Tasks and history of each run, keyed by seq (ascending = creation order).
  std::unordered_map<std::string, std::map<int64_t, TaskRecord>> tasks_ GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, int64_t> task_seq_by_id_ GUARDED_BY(mu_);
  std::unordered_map<std::string, std::map<int64_t, HistoryEvent>> history_ GUARDED_BY(mu_);
  std::unordered_map<std::string, std::map<int64_t, RunEvent>> run_events_ GUARDED_BY(mu_);
  std::map<State, int64_t> counts_ GUARDED_BY(mu_);
  int64_t next_outbox_seq_ GUARDED_BY(mu_) = 1;
  std::map<int64_t, ChangeEvent> outbox_ GUARDED_BY(mu_);  // by seq; run fields filled on read
  // Roll-ups by (dimension, key, UTC day); dimensions as in the SQLite store.
  std::map<std::tuple<int, std::string, int64_t>, StatsRollup> stats_ GUARDED_BY(mu_);

  // The listener's notifier thread. Lock order: mu_ before notify_mu_.
  Mutex notify_mu_;
  std::condition_variable notify_cv_;
  std::function<void()> listener_ GUARDED_BY(notify_mu_);
  bool notify_pending_ GUARDED_BY(notify_mu_) = false;
  bool notify_stop_ GUARDED_BY(notify_mu_) = false;
  std::thread notifier_;  // started by the first SetOutboxListener
};

}  // namespace sluice::store

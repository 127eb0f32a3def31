// FakeRunStore: a hand-written in-memory RunStore for tests of the layers above the store.
// It keeps everything in maps behind one mutex and follows the RunStore contract exactly
// (it passes testing/store_conformance.h); "durable" simply means "in the maps".
//
// Thread-safety: thread-safe; every method takes the one mutex.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/thread_annotations.h"
#include "store/run_store.h"

namespace sluice::store {

class FakeRunStore final : public RunStore {
 public:
  FakeRunStore() = default;

  Result<CreateRunResult> CreateRun(const NewRun& run) override;
  Result<RunRecord> GetRun(std::string_view run_id) override;
  Result<RunStatusRow> GetRunStatus(std::string_view run_id) override;
  Result<RunPage> ListRuns(const RunListQuery& query) override;
  Result<std::map<State, int64_t>> CountRunsByState() override;
  Result<TransitionOutcome> TransitionRun(const RunTransition& t) override;
  Result<bool> CreateTask(const TaskRecord& task) override;
  Result<TaskRecord> GetTask(std::string_view run_id, std::string_view task_id) override;
  Result<TaskPage> ListTasks(const TaskListQuery& query) override;
  Result<TransitionOutcome> TransitionTask(const TaskTransition& t) override;
  Result<HistoryPage> ListHistory(const HistoryQuery& query) override;
  Result<int64_t> AppendRunEvents(std::string_view run_id,
                                  const std::vector<RunEvent>& events) override;
  Result<RunEventPage> ListRunEvents(const RunEventQuery& query) override;
  Result<std::vector<RunRecord>> ClaimRuns(const ClaimRequest& req) override;
  Status RenewLeases(std::string_view owner, Micros lease_until) override;

 private:
  RunRecord* FindRun(std::string_view run_id) REQUIRES(mu_);
  void AppendHistory(const std::string& run_id, const std::string& task_id, std::string type,
                     State from, State to, Micros at, std::string reason) REQUIRES(mu_);

  Mutex mu_;
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
};

}  // namespace sluice::store

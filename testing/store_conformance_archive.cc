// The RunStore conformance cases about compact storage of ended runs (ArchiveEndedRuns): what
// a backend moves must read back exactly as before, and the run becomes read-only. A backend
// that keeps rows as they are (returns 0) passes the same checks.
//
// Notes pinned down here (run_store.h): on an archived run, CreateTask of an existing task
// returns false and of a new one kFailedPrecondition; a same-state TransitionTask returns
// changed=false (fill-ins are dropped: the cases give tasks whose fields are all set, so a
// backend that keeps rows behaves the same); any other state is kFailedPrecondition. UpdateTags
// still works and its TagsChanged event follows the run's last one in ListHistory.
#include <vector>

#include "testing/store_conformance.h"
#include "testing/store_conformance_util.h"

namespace sluice::store {

using namespace conformance;  // NOLINT(google-build-using-namespace): test helpers

int RunStoreArchiveConformanceAnchor() { return 0; }

namespace {

void ExpectSameTask(const TaskRecord& a, const TaskRecord& b) {
  EXPECT_EQ(a.run_id, b.run_id);
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.cmd, b.cmd);
  EXPECT_EQ(a.launch_spec, b.launch_spec);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.executor, b.executor);
  EXPECT_EQ(a.executor_job_id, b.executor_job_id);
  EXPECT_EQ(a.exit_code, b.exit_code);
  EXPECT_EQ(a.start_time, b.start_time);
  EXPECT_EQ(a.end_time, b.end_time);
  EXPECT_EQ(a.system_logs, b.system_logs);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.updated_at, b.updated_at);
}

void ExpectSameEvent(const HistoryEvent& a, const HistoryEvent& b) {
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.run_id, b.run_id);
  EXPECT_EQ(a.task_id, b.task_id);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.from, b.from);
  EXPECT_EQ(a.to, b.to);
  EXPECT_EQ(a.at, b.at);
  EXPECT_EQ(a.reason, b.reason);
}

// Everything a reader can see of a run, read page by page (small pages cross the cursor).
struct RunView {
  RunRecord run;
  std::vector<TaskRecord> tasks;        // ListTasks, pages of 2
  std::vector<TaskRecord> tasks_by_id;  // GetTask of each
  std::vector<HistoryEvent> history;    // ListHistory, pages of 3
  std::vector<std::optional<int64_t>> task_cursors, history_cursors;
};

void ReadView(RunStore& store, const std::string& id, RunView* v) {
  ASSERT_OK_AND_ASSIGN(v->run, store.GetRun(id));
  std::optional<int64_t> after;
  do {
    TaskListQuery q;
    q.run_id = id;
    q.page_size = 2;
    q.after_seq = after;
    ASSERT_OK_AND_ASSIGN(TaskPage page, store.ListTasks(q));
    for (TaskRecord& t : page.tasks) v->tasks.push_back(std::move(t));
    after = page.next_after_seq;
    v->task_cursors.push_back(after);
  } while (after.has_value());
  for (const TaskRecord& t : v->tasks) {
    ASSERT_OK_AND_ASSIGN(TaskRecord got, store.GetTask(id, t.id));
    v->tasks_by_id.push_back(std::move(got));
  }
  after.reset();
  do {
    HistoryQuery q;
    q.run_id = id;
    q.page_size = 3;
    q.after_seq = after;
    ASSERT_OK_AND_ASSIGN(HistoryPage page, store.ListHistory(q));
    for (HistoryEvent& e : page.events) v->history.push_back(std::move(e));
    after = page.next_after_seq;
    v->history_cursors.push_back(after);
  } while (after.has_value());
}

void ExpectSameView(const RunView& a, const RunView& b) {
  EXPECT_EQ(a.run.id, b.run.id);
  EXPECT_EQ(a.run.seq, b.run.seq);
  EXPECT_EQ(a.run.state, b.run.state);
  EXPECT_EQ(a.run.request, b.run.request);
  EXPECT_EQ(a.run.updated_at, b.run.updated_at);
  EXPECT_EQ(a.run.start_time, b.run.start_time);
  EXPECT_EQ(a.run.end_time, b.run.end_time);
  EXPECT_EQ(a.run.outputs, b.run.outputs);
  EXPECT_EQ(a.run.system_logs, b.run.system_logs);
  EXPECT_EQ(a.run.user, b.run.user);
  ASSERT_EQ(a.tasks.size(), b.tasks.size());
  for (size_t i = 0; i < a.tasks.size(); ++i) ExpectSameTask(a.tasks[i], b.tasks[i]);
  ASSERT_EQ(a.tasks_by_id.size(), b.tasks_by_id.size());
  for (size_t i = 0; i < a.tasks.size(); ++i) ExpectSameTask(a.tasks_by_id[i], b.tasks_by_id[i]);
  ASSERT_EQ(a.history.size(), b.history.size());
  for (size_t i = 0; i < a.history.size(); ++i) ExpectSameEvent(a.history[i], b.history[i]);
  EXPECT_EQ(a.task_cursors, b.task_cursors);
  EXPECT_EQ(a.history_cursors, b.history_cursors);
}

// A run that ran `n` tasks to the end (the last one failed, with a log) and ended at `end`.
void MakeEndedRun(RunStore& store, const std::string& id, int n, Micros end,
                  bool leave_last_running = false) {
  ASSERT_OK(store.CreateRun(MakeRun(id, 1000)));
  ASSERT_OK(store.TransitionRun(To(id, State::kInitializing, 1100, "workflow started")));
  ASSERT_OK(store.TransitionRun(To(id, State::kRunning, 1200, "first task submitted")));
  for (int k = 0; k < n; ++k) {
    std::string task_id = "t" + std::to_string(k);
    ASSERT_OK(store.CreateTask(MakeTask(id, task_id, 2000 + k)));
    TaskTransition init = TaskTo(id, task_id, State::kInitializing, 2100 + k, "submitted");
    init.executor_job_id = "job-" + std::to_string(k);
    ASSERT_OK(store.TransitionTask(init));
    TaskTransition run = TaskTo(id, task_id, State::kRunning, 3000 + k * 10);
    run.start_time = 3000 + k * 10;
    ASSERT_OK(store.TransitionTask(run));
    if (leave_last_running && k == n - 1) continue;
    bool fail = k == n - 1;
    TaskTransition done =
        TaskTo(id, task_id, fail ? State::kExecutorError : State::kComplete, 4000 + k * 10,
               fail ? "exit code 3" : "");
    done.end_time = 4000 + k * 10;
    done.exit_code = fail ? 3 : 0;
    if (fail) done.system_log = "ran out of patience ✓";
    ASSERT_OK(store.TransitionTask(done));
  }
  RunTransition t = To(id, State::kExecutorError, end, "a task failed");
  t.end_time = end;
  t.system_log = "task failed";
  ASSERT_OK(store.TransitionRun(t));
  ASSERT_OK(store.UpdateTags(id, {{"stage", "done"}}, {"unicode"}, end + 1));
}

}  // namespace

TEST_P(RunStoreConformanceTest, ArchivedRunsReadBackUnchanged) {
  MakeEndedRun(store(), "ended", 5, 10'000);
  MakeEndedRun(store(), "task-still-running", 2, 10'000, /*leave_last_running=*/true);
  MakeEndedRun(store(), "ended-late", 3, 90'000);
  ASSERT_OK(store().CreateRun(MakeRun("active", 1000)));
  ASSERT_OK(store().CreateTask(MakeTask("active", "a1")));
  const std::vector<std::string> ids = {"ended", "task-still-running", "ended-late", "active"};

  std::vector<RunView> before(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) ReadView(store(), ids[i], &before[i]);
  ASSERT_OK_AND_ASSIGN(RunCount total_before, store().CountRuns(RunFilter{}));
  RunFilter failed;
  failed.states = {State::kExecutorError};
  ASSERT_OK_AND_ASSIGN(RunCount failed_before, store().CountRuns(failed));
  ASSERT_OK_AND_ASSIGN(auto by_state_before, store().CountRunsByState());
  ASSERT_OK_AND_ASSIGN(RunPage page_before, store().ListRuns(RunsPage(10)));

  ASSERT_OK_AND_ASSIGN(int moved, store().ArchiveEndedRuns(50'000, 100));
  EXPECT_GE(moved, 0);
  EXPECT_LE(moved, 1);  // only "ended": the others have a running task, end later, or run
  ASSERT_OK_AND_ASSIGN(int again, store().ArchiveEndedRuns(50'000, 100));
  EXPECT_EQ(again, 0);

  for (size_t i = 0; i < ids.size(); ++i) {
    SCOPED_TRACE(ids[i]);
    RunView after;
    ReadView(store(), ids[i], &after);
    ExpectSameView(before[i], after);
  }
  ASSERT_OK_AND_ASSIGN(RunCount total_after, store().CountRuns(RunFilter{}));
  EXPECT_EQ(total_after.count, total_before.count);
  ASSERT_OK_AND_ASSIGN(RunCount failed_after, store().CountRuns(failed));
  EXPECT_EQ(failed_after.count, failed_before.count);
  ASSERT_OK_AND_ASSIGN(auto by_state_after, store().CountRunsByState());
  EXPECT_EQ(by_state_after, by_state_before);
  ASSERT_OK_AND_ASSIGN(RunPage page_after, store().ListRuns(RunsPage(10)));
  ASSERT_EQ(page_after.runs.size(), page_before.runs.size());
  for (size_t i = 0; i < page_after.runs.size(); ++i) {
    EXPECT_EQ(page_after.runs[i].id, page_before.runs[i].id);
    EXPECT_EQ(page_after.runs[i].updated_at, page_before.runs[i].updated_at);
  }
  EXPECT_CODE(store().GetTask("ended", "no-such-task"), kNotFound);

  // Everything has ended later on: the rest can go too, and still reads the same.
  ASSERT_OK_AND_ASSIGN(int later, store().ArchiveEndedRuns(1'000'000, 100));
  EXPECT_LE(later, 1);  // "ended-late"; "task-still-running" keeps its rows
  RunView late;
  ReadView(store(), "ended-late", &late);
  ExpectSameView(before[2], late);
}

TEST_P(RunStoreConformanceTest, ArchivedRunsAreReadOnly) {
  MakeEndedRun(store(), "ended", 3, 10'000);
  ASSERT_OK(store().ArchiveEndedRuns(50'000, 100));
  RunView before;
  ReadView(store(), "ended", &before);

  // CreateTask: false for a task the run has, kFailedPrecondition (run ended) otherwise.
  ASSERT_OK_AND_ASSIGN(bool created, store().CreateTask(MakeTask("ended", "t1")));
  EXPECT_FALSE(created);
  EXPECT_CODE(store().CreateTask(MakeTask("ended", "new-task")), kFailedPrecondition);

  // TransitionTask: same state changes nothing; any other is kFailedPrecondition.
  TaskTransition same = TaskTo("ended", "t0", State::kComplete, 99'000, "late repeat");
  same.exit_code = 0;
  same.end_time = 4000;
  ASSERT_OK_AND_ASSIGN(TransitionOutcome outcome, store().TransitionTask(same));
  EXPECT_FALSE(outcome.changed);
  EXPECT_EQ(outcome.from, State::kComplete);
  EXPECT_CODE(store().TransitionTask(TaskTo("ended", "t0", State::kRunning, 99'000)),
              kFailedPrecondition);
  EXPECT_CODE(store().TransitionTask(TaskTo("ended", "nope", State::kRunning, 99'000)),
              kNotFound);
  std::vector<Result<TransitionOutcome>> batch = store().TransitionTasks(
      {TaskTo("ended", "t2", State::kExecutorError, 99'000),
       TaskTo("ended", "t1", State::kCanceled, 99'000),
       TaskTo("ended", "nope", State::kComplete, 99'000)});
  ASSERT_EQ(batch.size(), 3u);
  ASSERT_OK(batch[0]);
  EXPECT_FALSE(batch[0]->changed);
  EXPECT_EQ(batch[0]->from, State::kExecutorError);
  EXPECT_CODE(batch[1], kFailedPrecondition);
  EXPECT_CODE(batch[2], kNotFound);

  RunView after;
  ReadView(store(), "ended", &after);
  ExpectSameView(before, after);

  // Tags can still change: the event goes after the run's last one.
  ASSERT_OK_AND_ASSIGN(RunRecord tagged,
                       store().UpdateTags("ended", {{"kept", "yes"}}, {}, 99'500));
  EXPECT_EQ(tagged.request.tags.at("kept"), "yes");
  ASSERT_OK_AND_ASSIGN(HistoryPage tag_history, store().ListHistory({"ended", 1000, std::nullopt}));
  ASSERT_EQ(tag_history.events.size(), before.history.size() + 1);
  const HistoryEvent& tag_event = tag_history.events.back();
  EXPECT_EQ(tag_event.type, "TagsChanged");
  EXPECT_GT(tag_event.seq, before.history.back().seq);
  EXPECT_EQ(tag_event.reason, "set kept=yes");
  EXPECT_EQ(tag_event.at, 99'500);
  EXPECT_EQ(tag_event.task_id, "");
  for (size_t i = 0; i < before.history.size(); ++i) {
    ExpectSameEvent(tag_history.events[i], before.history[i]);
  }
  ASSERT_OK_AND_ASSIGN(TaskPage tasks_after_tag, store().ListTasks({"ended", 100, std::nullopt}));
  EXPECT_EQ(tasks_after_tag.tasks.size(), before.tasks.size());

  // DeleteRun takes the compact copy with it.
  ASSERT_OK_AND_ASSIGN(RunCount count_before, store().CountRuns(RunFilter{}));
  ASSERT_OK(store().DeleteRun("ended"));
  EXPECT_CODE(store().GetRun("ended"), kNotFound);
  EXPECT_CODE(store().GetTask("ended", "t0"), kNotFound);
  EXPECT_CODE(store().ListTasks({"ended", 10, std::nullopt}), kNotFound);
  EXPECT_CODE(store().ListHistory({"ended", 10, std::nullopt}), kNotFound);
  ASSERT_OK_AND_ASSIGN(RunCount count_after, store().CountRuns(RunFilter{}));
  EXPECT_EQ(count_after.count, count_before.count - 1);
  // A new run (possibly reusing the deleted one's number) starts with nothing.
  ASSERT_OK(store().CreateRun(MakeRun("ended", 200'000)));
  ASSERT_OK_AND_ASSIGN(TaskPage tasks, store().ListTasks({"ended", 10, std::nullopt}));
  EXPECT_TRUE(tasks.tasks.empty());
  ASSERT_OK_AND_ASSIGN(HistoryPage history, store().ListHistory({"ended", 10, std::nullopt}));
  EXPECT_EQ(history.events.size(), 1u);
}

}  // namespace sluice::store

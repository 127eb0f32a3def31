// The RunStore conformance cases about the outbox, state sync's batch (TransitionTasks), stats
// roll-ups, run deletion, ended runs and stale tasks (the rest are in store_conformance*.cc).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include "testing/store_conformance.h"
#include "testing/store_conformance_util.h"

namespace sluice::store {

using namespace conformance;  // NOLINT(google-build-using-namespace): test helpers

int RunStoreOutboxConformanceAnchor() { return 0; }

namespace {

constexpr Micros kDay = 86400 * kMicrosPerSecond;
// 2026-11-30T00:00:00Z.
constexpr Micros kNov30 = Micros{1795996800} * kMicrosPerSecond;

std::vector<ChangeEvent> ReadAll(RunStore& store, int64_t after = 0) {
  Result<std::vector<ChangeEvent>> r = store.ReadOutbox(after, 100000);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::vector<ChangeEvent>{};
}

// Ends `id` in `to` at `end` after starting it at `start`, with `usage` if given.
void EndRun(RunStore& store, const std::string& id, Micros start, Micros end, State to,
            std::optional<RunUsage> usage = std::nullopt) {
  RunTransition run = To(id, State::kRunning, start);
  run.start_time = start;
  ASSERT_OK(store.TransitionRun(run));
  RunTransition fin = To(id, to, end);
  fin.end_time = end;
  fin.usage = std::move(usage);
  ASSERT_OK(store.TransitionRun(fin));
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Outbox

TEST_P(RunStoreConformanceTest, OutboxHasOneEntryPerHistoryEventInCommitOrder) {
  NewRun n = MakeRun("r1", 100);
  n.user = "ana";
  ASSERT_OK(store().CreateRun(n));
  ASSERT_OK(store().CreateRun(MakeRun("r2", 110)));
  ASSERT_OK(store().CreateTask(MakeTask("r1", "t1", 200)));
  ASSERT_OK(store().TransitionRun(To("r1", State::kRunning, 300, "go")));
  ASSERT_OK(store().TransitionTask(TaskTo("r1", "t1", State::kRunning, 400, "started")));
  ASSERT_OK(store().TransitionTask(TaskTo("r1", "t1", State::kRunning, 450)));  // no-op
  ASSERT_OK(store().TransitionTask(TaskTo("r1", "t1", State::kComplete, 500, "exit 0")));
  ASSERT_OK(store().TransitionRun(To("r2", State::kCanceled, 600, "canceled")));

  std::vector<ChangeEvent> events = ReadAll(store());
  ASSERT_EQ(events.size(), 7u);
  for (size_t i = 1; i < events.size(); ++i) EXPECT_LT(events[i - 1].seq, events[i].seq);
  // Commit order across runs.
  std::vector<std::string> runs;
  for (const ChangeEvent& e : events) runs.push_back(e.run_id);
  EXPECT_EQ(runs, (std::vector<std::string>{"r1", "r2", "r1", "r1", "r1", "r1", "r2"}));
  // The same events as each run's history, field for field.
  for (std::string id : {"r1", "r2"}) {
    ASSERT_OK_AND_ASSIGN(HistoryPage history, store().ListHistory(HistoryQuery{id, 100, {}}));
    std::vector<ChangeEvent> mine;
    for (const ChangeEvent& e : events) {
      if (e.run_id == id) mine.push_back(e);
    }
    ASSERT_EQ(mine.size(), history.events.size()) << id;
    for (size_t i = 0; i < mine.size(); ++i) {
      const HistoryEvent& h = history.events[i];
      EXPECT_EQ(mine[i].task_id, h.task_id);
      EXPECT_EQ(mine[i].type, h.type);
      EXPECT_EQ(mine[i].from, h.from);
      EXPECT_EQ(mine[i].to, h.to);
      EXPECT_EQ(mine[i].at, h.at);
      EXPECT_EQ(mine[i].reason, h.reason);
    }
  }
  // The run as it is now rides along.
  EXPECT_EQ(events[0].run_state, State::kRunning);
  EXPECT_EQ(events[0].user, "ana");
  EXPECT_EQ(events[0].workflow_type, "MOCK");
  EXPECT_EQ(events[0].tags, SampleRequest().tags);
  EXPECT_EQ(events[1].run_state, State::kCanceled);
  EXPECT_EQ(events[1].user, "anonymous");
  EXPECT_EQ(events[4].task_id, "t1");
  EXPECT_EQ(events[4].type, "TaskStateChanged");

  // Paging with after_seq and limit.
  ASSERT_OK_AND_ASSIGN(std::vector<ChangeEvent> page, store().ReadOutbox(events[2].seq, 2));
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].seq, events[3].seq);
  EXPECT_EQ(page[1].seq, events[4].seq);
}

TEST_P(RunStoreConformanceTest, FailedTransitionsWriteNoOutboxEntry) {
  ASSERT_OK(store().CreateRun(MakeRun("r1", 100)));
  ASSERT_OK(store().TransitionRun(To("r1", State::kComplete, 200)));
  EXPECT_CODE(store().TransitionRun(To("r1", State::kRunning, 300)), kFailedPrecondition);
  EXPECT_CODE(store().TransitionRun(To("nope", State::kRunning, 300)), kNotFound);
  EXPECT_EQ(ReadAll(store()).size(), 2u);
}

TEST_P(RunStoreConformanceTest, OutboxBoundsAndPruningNeverReuseSeqs) {
  ASSERT_OK_AND_ASSIGN(OutboxBounds empty, store().GetOutboxBounds());
  EXPECT_EQ(empty.oldest_seq, 0);
  EXPECT_EQ(empty.last_seq, 0);
  for (int i = 0; i < 5; ++i) ASSERT_OK(store().CreateRun(MakeRun(RunId(i), 100 * (i + 1))));
  std::vector<ChangeEvent> events = ReadAll(store());
  ASSERT_EQ(events.size(), 5u);
  ASSERT_OK_AND_ASSIGN(OutboxBounds b, store().GetOutboxBounds());
  EXPECT_EQ(b.oldest_seq, events.front().seq);
  EXPECT_EQ(b.last_seq, events.back().seq);

  // Entries at 100, 200 are before 250; the limit takes one at a time.
  ASSERT_OK_AND_ASSIGN(int64_t n, store().PruneOutbox(250, 1));
  EXPECT_EQ(n, 1);
  ASSERT_OK_AND_ASSIGN(n, store().PruneOutbox(250, 10));
  EXPECT_EQ(n, 1);
  ASSERT_OK_AND_ASSIGN(n, store().PruneOutbox(250, 10));
  EXPECT_EQ(n, 0);
  ASSERT_OK_AND_ASSIGN(b, store().GetOutboxBounds());
  EXPECT_EQ(b.oldest_seq, events[2].seq);
  EXPECT_EQ(b.last_seq, events.back().seq);
  EXPECT_EQ(ReadAll(store()).size(), 3u);
  EXPECT_EQ(ReadAll(store()).front().seq, events[2].seq);

  // Everything goes; the next entry still gets a new seq.
  ASSERT_OK_AND_ASSIGN(n, store().PruneOutbox(1'000'000, 100));
  EXPECT_EQ(n, 3);
  ASSERT_OK_AND_ASSIGN(b, store().GetOutboxBounds());
  EXPECT_EQ(b.oldest_seq, 0);
  EXPECT_EQ(b.last_seq, events.back().seq);
  ASSERT_OK(store().CreateRun(MakeRun("late", 50)));
  std::vector<ChangeEvent> after = ReadAll(store());
  ASSERT_EQ(after.size(), 1u);
  EXPECT_GT(after[0].seq, events.back().seq);
}

TEST_P(RunStoreConformanceTest, PruneOutboxKeepsEverythingFromTheFirstRecentEntry) {
  ASSERT_OK(store().CreateRun(MakeRun("a", 100)));
  ASSERT_OK(store().CreateRun(MakeRun("b", 900)));
  ASSERT_OK(store().CreateRun(MakeRun("c", 200)));  // old, but after a recent one
  ASSERT_OK_AND_ASSIGN(int64_t n, store().PruneOutbox(500, 10));
  EXPECT_EQ(n, 1);
  std::vector<ChangeEvent> left = ReadAll(store());
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].run_id, "b");
}

TEST_P(RunStoreConformanceTest, OutboxListenerIsCalledAfterTheCommit) {
  std::atomic<int> calls{0};
  std::atomic<int64_t> seen_last{0};
  RunStore* s = &store();
  store().SetOutboxListener([&calls, &seen_last, s] {
    // Whatever woke the listener is already readable.
    Result<OutboxBounds> b = s->GetOutboxBounds();
    if (b.ok()) seen_last = b->last_seq;
    calls++;
  });
  ASSERT_OK(store().CreateRun(MakeRun("r1", 100)));
  ASSERT_OK_AND_ASSIGN(OutboxBounds b, store().GetOutboxBounds());
  for (int i = 0; i < 500 && seen_last.load() < b.last_seq; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(calls.load(), 1);
  EXPECT_EQ(seen_last.load(), b.last_seq);
  store().SetOutboxListener(nullptr);
}

// ---------------------------------------------------------------------------------------
// TransitionTasks

TEST_P(RunStoreConformanceTest, TransitionTasksAppliesEachEntryAsTransitionTaskWould) {
  ASSERT_OK(store().CreateRun(MakeRun("r1", 100)));
  ASSERT_OK(store().CreateTask(MakeTask("r1", "a", 200)));
  ASSERT_OK(store().CreateTask(MakeTask("r1", "b", 200)));
  ASSERT_OK(store().CreateTask(MakeTask("r1", "c", 200)));
  ASSERT_OK(store().TransitionTask(TaskTo("r1", "c", State::kComplete, 250)));
  size_t before = ReadAll(store()).size();

  TaskTransition a_run = TaskTo("r1", "a", State::kRunning, 300, "started");
  a_run.executor_job_id = "job-a";
  TaskTransition a_again = TaskTo("r1", "a", State::kRunning, 310);
  a_again.start_time = 305;  // a repeat still fills in what is missing
  TaskTransition a_done = TaskTo("r1", "a", State::kComplete, 400, "exit 0");
  a_done.exit_code = 0;
  std::vector<TaskTransition> batch = {
      a_run,
      TaskTo("r1", "zzz", State::kRunning, 300),                  // unknown task
      TaskTo("nope", "a", State::kRunning, 300),                  // unknown run
      TaskTo("r1", "c", State::kRunning, 300),                    // stale: c is COMPLETE
      TaskTo("r1", "b", State::kRunning, 320),
      a_again,                                                    // duplicate: no-op
      TaskTo("r1", "a", State::kQueued, 330),                     // backwards
      a_done,
  };
  std::vector<Result<TransitionOutcome>> results = store().TransitionTasks(batch);
  ASSERT_EQ(results.size(), batch.size());
  ASSERT_OK(results[0]);
  EXPECT_EQ(results[0]->from, State::kQueued);
  EXPECT_TRUE(results[0]->changed);
  EXPECT_CODE(results[1], kNotFound);
  EXPECT_CODE(results[2], kNotFound);
  EXPECT_CODE(results[3], kFailedPrecondition);
  ASSERT_OK(results[4]);
  EXPECT_TRUE(results[4]->changed);
  ASSERT_OK(results[5]);
  EXPECT_FALSE(results[5]->changed);
  EXPECT_EQ(results[5]->from, State::kRunning);
  EXPECT_CODE(results[6], kFailedPrecondition);
  ASSERT_OK(results[7]);
  EXPECT_EQ(results[7]->from, State::kRunning);
  EXPECT_TRUE(results[7]->changed);

  ASSERT_OK_AND_ASSIGN(TaskRecord a, store().GetTask("r1", "a"));
  EXPECT_EQ(a.state, State::kComplete);
  EXPECT_EQ(a.executor_job_id, "job-a");
  EXPECT_EQ(a.start_time, std::optional<Micros>(305));
  EXPECT_EQ(a.exit_code, std::optional<int>(0));
  ASSERT_OK_AND_ASSIGN(TaskRecord b, store().GetTask("r1", "b"));
  EXPECT_EQ(b.state, State::kRunning);
  ASSERT_OK_AND_ASSIGN(TaskRecord c, store().GetTask("r1", "c"));
  EXPECT_EQ(c.state, State::kComplete);
  // One history event (and outbox entry) per change: a RUNNING, b RUNNING, a COMPLETE.
  std::vector<ChangeEvent> events = ReadAll(store());
  ASSERT_EQ(events.size(), before + 3);
  EXPECT_EQ(events[before].task_id, "a");
  EXPECT_EQ(events[before + 1].task_id, "b");
  EXPECT_EQ(events[before + 2].to, State::kComplete);
  EXPECT_TRUE(store().TransitionTasks({}).empty());
}

// ---------------------------------------------------------------------------------------
// Stats roll-ups

namespace {

NewRun StatsRun(const std::string& id, const std::string& user, const std::string& type,
                StringMap tags) {
  NewRun n = MakeRun(id, kNov30 - kDay);
  n.user = user;
  n.request.workflow_type = type;
  n.request.tags = std::move(tags);
  return n;
}

RunUsage Usage(int tasks, int failed, std::vector<double> seconds, double cpu, double mem) {
  RunUsage u;
  u.tasks = tasks;
  u.tasks_failed = failed;
  u.task_seconds = std::move(seconds);
  u.cpu_seconds = cpu;
  u.memory_gb_seconds = mem;
  return u;
}

const StatsGroup* Find(const std::vector<StatsGroup>& groups, const std::string& key) {
  for (const StatsGroup& g : groups) {
    if (g.key == key) return &g;
  }
  return nullptr;
}

}  // namespace

TEST_P(RunStoreConformanceTest, StatsRollUpEachTerminalRunByDayUserTagAndWorkflowType) {
  // Nov 30: ana x2 (COMPLETE 60 s, EXECUTOR_ERROR 120 s), bo x1 (COMPLETE 30 s, no usage).
  // Dec 1: ana x1 (CANCELED while queued: counted, no duration).
  ASSERT_OK(store().CreateRun(StatsRun("a1", "ana", "ASL", {{"project", "x"}, {"k", "1"}})));
  ASSERT_OK(store().CreateRun(StatsRun("a2", "ana", "ASL", {{"project", "y"}})));
  ASSERT_OK(store().CreateRun(StatsRun("b1", "bo", "CWL", {{"project", "x"}})));
  ASSERT_OK(store().CreateRun(StatsRun("a3", "ana", "ASL", {})));
  ASSERT_OK(store().CreateRun(StatsRun("q", "ana", "ASL", {})));  // never ends: not counted
  Micros t = kNov30 + 3600 * kMicrosPerSecond;
  EndRun(store(), "a1", t, t + 60 * kMicrosPerSecond, State::kComplete,
         Usage(3, 0, {10, 20, 30}, 120, 240));
  EndRun(store(), "a2", t, t + 120 * kMicrosPerSecond, State::kExecutorError,
         Usage(2, 1, {5, 100}, 30, 60));
  // Ends in the last microsecond of Nov 30.
  EndRun(store(), "b1", kNov30 + kDay - 1 - 30 * kMicrosPerSecond, kNov30 + kDay - 1,
         State::kComplete);
  RunTransition cancel = To("a3", State::kCanceled, kNov30 + kDay);  // 00:00 Dec 1
  cancel.end_time = kNov30 + kDay;
  ASSERT_OK(store().TransitionRun(cancel));
  // A repeated terminal transition counts nothing more.
  ASSERT_OK(store().TransitionRun(cancel));

  StatsQuery q;
  q.from = kNov30 - kDay;
  q.to = kNov30 + 2 * kDay;
  q.group_by = StatsGroupBy::kDay;
  ASSERT_OK_AND_ASSIGN(std::vector<StatsGroup> days, store().QueryStats(q));
  ASSERT_EQ(days.size(), 2u);
  EXPECT_EQ(days[0].key, "2026-11-30");
  EXPECT_EQ(days[0].runs, 3);
  EXPECT_EQ(days[0].runs_by_state,
            (std::map<State, int64_t>{{State::kComplete, 2}, {State::kExecutorError, 1}}));
  EXPECT_EQ(days[0].tasks, 5);
  EXPECT_EQ(days[0].tasks_failed, 1);
  EXPECT_DOUBLE_EQ(days[0].cpu_seconds, 150);
  EXPECT_DOUBLE_EQ(days[0].memory_gb_seconds, 300);
  EXPECT_EQ(days[0].run_duration.count, 3);
  EXPECT_NEAR(days[0].run_duration.p50_seconds, 60, 60 * 0.05);
  EXPECT_NEAR(days[0].run_duration.p95_seconds, 120, 120 * 0.05);
  EXPECT_EQ(days[0].task_duration.count, 5);
  EXPECT_NEAR(days[0].task_duration.p50_seconds, 20, 20 * 0.05);
  EXPECT_NEAR(days[0].task_duration.p95_seconds, 100, 100 * 0.05);
  EXPECT_EQ(days[1].key, "2026-12-01");
  EXPECT_EQ(days[1].runs, 1);
  EXPECT_EQ(days[1].runs_by_state, (std::map<State, int64_t>{{State::kCanceled, 1}}));
  EXPECT_EQ(days[1].run_duration.count, 0);
  EXPECT_EQ(days[1].tasks, 0);

  // [from, to) selects whole days: any instant of Nov 30 selects that day only.
  q.from = kNov30 + 5;
  q.to = kNov30 + 6;
  ASSERT_OK_AND_ASSIGN(days, store().QueryStats(q));
  ASSERT_EQ(days.size(), 1u);
  EXPECT_EQ(days[0].key, "2026-11-30");
  q.from = kNov30 + kDay;
  q.to = kNov30 + kDay;
  ASSERT_OK_AND_ASSIGN(days, store().QueryStats(q));
  EXPECT_TRUE(days.empty());

  q.from = kNov30;
  q.to = kNov30 + 2 * kDay;
  q.group_by = StatsGroupBy::kUser;
  ASSERT_OK_AND_ASSIGN(std::vector<StatsGroup> users, store().QueryStats(q));
  ASSERT_EQ(users.size(), 2u);
  const StatsGroup* ana = Find(users, "ana");
  ASSERT_NE(ana, nullptr);
  EXPECT_EQ(ana->runs, 3);
  EXPECT_EQ(ana->tasks, 5);
  EXPECT_EQ(ana->run_duration.count, 2);
  const StatsGroup* bo = Find(users, "bo");
  ASSERT_NE(bo, nullptr);
  EXPECT_EQ(bo->runs, 1);
  EXPECT_NEAR(bo->run_duration.p50_seconds, 30, 30 * 0.05);

  q.group_by = StatsGroupBy::kWorkflowType;
  ASSERT_OK_AND_ASSIGN(std::vector<StatsGroup> types, store().QueryStats(q));
  ASSERT_EQ(types.size(), 2u);
  EXPECT_EQ(types[0].key, "ASL");
  EXPECT_EQ(types[0].runs, 3);
  EXPECT_EQ(types[1].key, "CWL");
  EXPECT_EQ(types[1].runs, 1);

  q.group_by = StatsGroupBy::kTag;
  q.tag_key = "project";
  ASSERT_OK_AND_ASSIGN(std::vector<StatsGroup> projects, store().QueryStats(q));
  ASSERT_EQ(projects.size(), 2u);  // a3 has no project tag: left out
  EXPECT_EQ(projects[0].key, "x");
  EXPECT_EQ(projects[0].runs, 2);
  EXPECT_EQ(projects[0].runs_by_state, (std::map<State, int64_t>{{State::kComplete, 2}}));
  EXPECT_EQ(projects[1].key, "y");
  EXPECT_EQ(projects[1].runs, 1);
  q.tag_key = "k";
  ASSERT_OK_AND_ASSIGN(std::vector<StatsGroup> ks, store().QueryStats(q));
  ASSERT_EQ(ks.size(), 1u);
  EXPECT_EQ(ks[0].key, "1");
  q.tag_key = "";
  EXPECT_CODE(store().QueryStats(q), kInvalidArgument);
}

TEST_P(RunStoreConformanceTest, StatsPercentilesStayWithinHistogramError) {
  std::vector<double> seconds;
  for (int i = 0; i < 40; ++i) {
    std::string id = RunId(i);
    ASSERT_OK(store().CreateRun(MakeRun(id, kNov30)));
    double s = 1.5 * std::pow(1.13, i);  // 1.5 s .. ~180 s
    seconds.push_back(s);
    Micros start = kNov30 + kMicrosPerSecond;
    EndRun(store(), id, start, start + static_cast<Micros>(s * kMicrosPerSecond),
           State::kComplete);
  }
  StatsQuery q;
  q.from = kNov30;
  q.to = kNov30 + kDay;
  ASSERT_OK_AND_ASSIGN(std::vector<StatsGroup> days, store().QueryStats(q));
  ASSERT_EQ(days.size(), 1u);
  std::sort(seconds.begin(), seconds.end());
  EXPECT_EQ(days[0].run_duration.count, 40);
  EXPECT_NEAR(days[0].run_duration.p50_seconds, seconds[19], seconds[19] * 0.05);
  EXPECT_NEAR(days[0].run_duration.p95_seconds, seconds[37], seconds[37] * 0.05);
}

// ---------------------------------------------------------------------------------------
// DeleteRun, ListEndedRuns, ListStaleTasks

TEST_P(RunStoreConformanceTest, DeleteRunRemovesAnEndedRunAndEverythingItOwns) {
  ASSERT_OK(store().CreateRun(MakeRun("keep", 100)));
  ASSERT_OK(store().CreateRun(MakeRun("r1", 100, "key-1")));
  ASSERT_OK(store().CreateTask(MakeTask("r1", "t1", 200)));
  RunEvent entered;
  entered.type = "StateEntered";
  entered.at = 250;
  ASSERT_OK(store().AppendRunEvents("r1", {entered}));
  EXPECT_CODE(store().DeleteRun("r1"), kFailedPrecondition);
  EXPECT_CODE(store().DeleteRun("nope"), kNotFound);
  EndRun(store(), "r1", kNov30, kNov30 + 10 * kMicrosPerSecond, State::kComplete,
         Usage(1, 0, {5}, 5, 5));
  ASSERT_OK(store().DeleteRun("r1"));

  EXPECT_CODE(store().GetRun("r1"), kNotFound);
  EXPECT_CODE(store().GetRunStatus("r1"), kNotFound);
  EXPECT_CODE(store().GetTask("r1", "t1"), kNotFound);
  EXPECT_CODE(store().ListHistory(HistoryQuery{"r1", 10, {}}), kNotFound);
  EXPECT_CODE(store().ListTasks(TaskListQuery{"r1", 10, {}}), kNotFound);
  EXPECT_CODE(store().DeleteRun("r1"), kNotFound);
  ASSERT_OK_AND_ASSIGN(auto counts, store().CountRunsByState());
  EXPECT_EQ(counts, (std::map<State, int64_t>{{State::kQueued, 1}}));
  ASSERT_OK_AND_ASSIGN(RunPage page, store().ListRuns(RunsPage(10)));
  ASSERT_EQ(page.runs.size(), 1u);
  EXPECT_EQ(page.runs[0].id, "keep");
  // The id and the idempotency key are free again.
  NewRun again = MakeRun("r1", 900, "key-1");
  ASSERT_OK_AND_ASSIGN(CreateRunResult created, store().CreateRun(again));
  EXPECT_TRUE(created.created);
  ASSERT_OK_AND_ASSIGN(HistoryPage history, store().ListHistory(HistoryQuery{"r1", 10, {}}));
  EXPECT_EQ(history.events.size(), 1u);

  // The outbox says so (after the run's last change); the roll-ups keep the run.
  std::vector<ChangeEvent> events = ReadAll(store());
  ASSERT_GE(events.size(), 2u);
  const ChangeEvent& deleted = events[events.size() - 2];
  EXPECT_EQ(deleted.type, "RunDeleted");
  EXPECT_EQ(deleted.run_id, "r1");
  EXPECT_EQ(deleted.task_id, "");
  EXPECT_EQ(deleted.from, State::kComplete);
  StatsQuery q;
  q.from = kNov30;
  q.to = kNov30 + kDay;
  ASSERT_OK_AND_ASSIGN(std::vector<StatsGroup> days, store().QueryStats(q));
  ASSERT_EQ(days.size(), 1u);
  EXPECT_EQ(days[0].runs, 1);
  EXPECT_EQ(days[0].tasks, 1);
}

TEST_P(RunStoreConformanceTest, ListEndedRunsPagesByEndTimeBeforeTheCutoff) {
  // Ends: e0 500, e1 300, e2 300, e3 900 (after the cutoff); q never ends.
  const std::vector<std::pair<std::string, Micros>> ends = {
      {"e0", 500}, {"e1", 300}, {"e2", 300}, {"e3", 900}};
  for (const auto& [id, end] : ends) {
    NewRun n = MakeRun(id, 100);
    n.request.tags = {{"stage", id}};
    ASSERT_OK(store().CreateRun(n));
    RunTransition t = To(id, State::kComplete, end);
    t.end_time = end;
    ASSERT_OK(store().TransitionRun(t));
  }
  ASSERT_OK(store().CreateRun(MakeRun("q", 100)));
  EndedRunQuery query;
  query.ended_before = 800;
  query.limit = 2;
  ASSERT_OK_AND_ASSIGN(std::vector<EndedRun> page, store().ListEndedRuns(query));
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].id, "e1");
  EXPECT_EQ(page[0].end_time, 300);
  EXPECT_EQ(page[0].workflow_type, "MOCK");
  EXPECT_EQ(page[0].tags, (StringMap{{"stage", "e1"}}));
  EXPECT_EQ(page[1].id, "e2");
  EXPECT_LT(page[0].seq, page[1].seq);
  query.after = RunCursor{page[1].end_time, page[1].seq};
  ASSERT_OK_AND_ASSIGN(page, store().ListEndedRuns(query));
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].id, "e0");
  query.after = RunCursor{page[0].end_time, page[0].seq};
  ASSERT_OK_AND_ASSIGN(page, store().ListEndedRuns(query));
  EXPECT_TRUE(page.empty());
}

TEST_P(RunStoreConformanceTest, ListStaleTasksReturnsOldSubmittedUnfinishedTasks) {
  ASSERT_OK(store().CreateRun(MakeRun("r1", 100)));
  ASSERT_OK(store().CreateRun(MakeRun("r2", 100)));
  auto submit = [&](const std::string& run, const std::string& id, Micros at) {
    ASSERT_OK(store().CreateTask(MakeTask(run, id, 100)));
    TaskTransition t = TaskTo(run, id, State::kInitializing, at);
    t.executor_job_id = "job-" + id;
    ASSERT_OK(store().TransitionTask(t));
  };
  submit("r1", "old", 300);
  submit("r2", "older", 200);
  submit("r1", "fresh", 900);
  submit("r1", "done", 150);
  ASSERT_OK(store().TransitionTask(TaskTo("r1", "done", State::kComplete, 160)));
  ASSERT_OK(store().CreateTask(MakeTask("r1", "unsubmitted", 100)));  // no job id

  ASSERT_OK_AND_ASSIGN(std::vector<TaskRecord> stale, store().ListStaleTasks(500, 10));
  ASSERT_EQ(stale.size(), 2u);
  EXPECT_EQ(stale[0].run_id, "r2");
  EXPECT_EQ(stale[0].id, "older");
  EXPECT_EQ(stale[0].executor_job_id, "job-older");
  EXPECT_EQ(stale[1].run_id, "r1");
  EXPECT_EQ(stale[1].id, "old");
  ASSERT_OK_AND_ASSIGN(stale, store().ListStaleTasks(500, 1));
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_EQ(stale[0].id, "older");
}

}  // namespace sluice::store

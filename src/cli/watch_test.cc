#include "cli/watch.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <deque>

#include "cli/exit_codes.h"

namespace sluice::cli {
namespace {

RunSnapshot Snap(std::string state,
                 std::vector<std::tuple<std::string, std::string, std::string>> tasks) {
  RunSnapshot s;
  s.state = std::move(state);
  for (auto& [id, label, task_state] : tasks) {
    s.task_order.push_back(id);
    s.tasks[id] = TaskSnapshot{label, task_state};
  }
  return s;
}

TEST(DiffSnapshots, FirstSnapshotReportsEverything) {
  RunSnapshot s = Snap("RUNNING", {{"t1", "align", "RUNNING"}, {"t2", "t2", "QUEUED"}});
  EXPECT_EQ(DiffSnapshots(nullptr, s),
            (std::vector<std::string>{"align RUNNING", "t2 QUEUED", "run RUNNING"}));
}

TEST(DiffSnapshots, ReportsOnlyChangesTasksBeforeRun) {
  RunSnapshot a = Snap("RUNNING", {{"t1", "align", "RUNNING"}});
  RunSnapshot b = Snap("COMPLETE", {{"t1", "align", "COMPLETE"}, {"t2", "sort", "COMPLETE"}});
  EXPECT_EQ(DiffSnapshots(&a, a), std::vector<std::string>{});
  EXPECT_EQ(DiffSnapshots(&a, b),
            (std::vector<std::string>{"align COMPLETE", "sort COMPLETE", "run COMPLETE"}));
}

// Plays back prepared snapshots (or errors) without sleeping.
class ScriptedSource final : public ProgressSource {
 public:
  explicit ScriptedSource(std::deque<Result<RunSnapshot>> script) : script_(std::move(script)) {}
  Result<RunSnapshot> Next() override {
    if (script_.empty()) return Internal("script exhausted");
    Result<RunSnapshot> next = std::move(script_.front());
    script_.pop_front();
    return next;
  }

 private:
  std::deque<Result<RunSnapshot>> script_;
};

std::string ReadAll(std::FILE* f) {
  std::rewind(f);
  std::string out;
  char buf[256];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  return out;
}

TEST(WatchRun, ExitsZeroWhenComplete) {
  std::deque<Result<RunSnapshot>> script;
  script.push_back(Snap("QUEUED", {}));
  script.push_back(Snap("RUNNING", {{"t1", "t1", "RUNNING"}}));
  script.push_back(Snap("COMPLETE", {{"t1", "t1", "COMPLETE"}}));
  ScriptedSource source(std::move(script));
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(WatchRun(source, out), kExitOk);
  std::string text = ReadAll(out);
  std::fclose(out);
  EXPECT_NE(text.find(" run QUEUED\n"), std::string::npos) << text;
  EXPECT_NE(text.find(" t1 RUNNING\n"), std::string::npos) << text;
  EXPECT_NE(text.find(" t1 COMPLETE\n"), std::string::npos) << text;
  EXPECT_NE(text.find(" run COMPLETE\n"), std::string::npos) << text;
  EXPECT_LT(text.find("t1 COMPLETE"), text.find("run COMPLETE"));
}

TEST(WatchRun, ExitsOneForOtherTerminalStates) {
  for (const char* state : {"EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED", "PREEMPTED"}) {
    std::deque<Result<RunSnapshot>> script;
    script.push_back(Snap(state, {}));
    ScriptedSource source(std::move(script));
    std::FILE* out = std::tmpfile();
    EXPECT_EQ(WatchRun(source, out), kExitRunNotComplete) << state;
    std::fclose(out);
  }
}

TEST(WatchRun, RetriesUnavailableButStopsOnOtherErrors) {
  std::deque<Result<RunSnapshot>> script;
  script.push_back(Unavailable("cannot reach http://x: Connection refused"));
  script.push_back(Snap("COMPLETE", {}));
  ScriptedSource retried(std::move(script));
  std::FILE* out = std::tmpfile();
  EXPECT_EQ(WatchRun(retried, out), kExitOk);

  std::deque<Result<RunSnapshot>> missing;
  missing.push_back(NotFound("404: run x not found"));
  ScriptedSource not_found(std::move(missing));
  EXPECT_EQ(WatchRun(not_found, out), kExitNotFound);
  std::fclose(out);
}

SseEvent Ev(std::string type, std::string data) {
  return SseEvent{"", std::move(type), std::move(data)};
}

TEST(ApplyRunEvent, SnapshotThenEventsThenEnd) {
  RunSnapshot snap;
  std::string final_state;
  ASSERT_TRUE(
      ApplyRunEvent(Ev("snapshot", R"({"run_id":"r","run_state":"RUNNING","tasks":)"
                                   R"([{"task_id":"t1","name":"align","state":"RUNNING"}]})"),
                    snap, final_state));
  EXPECT_EQ(snap.state, "RUNNING");
  EXPECT_EQ(snap.tasks.at("t1").label, "align");
  RunSnapshot before = snap;
  EXPECT_TRUE(ApplyRunEvent(Ev("TaskStateChanged", R"({"task_id":"t1","to":"COMPLETE"})"), snap,
                            final_state));
  EXPECT_TRUE(
      ApplyRunEvent(Ev("TaskCreated", R"({"task_id":"t2","to":"QUEUED"})"), snap, final_state));
  EXPECT_EQ(DiffSnapshots(&before, snap),
            (std::vector<std::string>{"align COMPLETE", "t2 QUEUED"}));
  EXPECT_FALSE(
      ApplyRunEvent(Ev("TagsChanged", R"({"task_id":"","to":"RUNNING"})"), snap, final_state));
  EXPECT_FALSE(ApplyRunEvent(Ev("RunStateChanged", "not json"), snap, final_state));
  EXPECT_TRUE(
      ApplyRunEvent(Ev("RunStateChanged", R"({"task_id":"","to":"COMPLETE"})"), snap, final_state));
  EXPECT_EQ(snap.state, "COMPLETE");
  EXPECT_TRUE(final_state.empty());
  EXPECT_TRUE(
      ApplyRunEvent(Ev("end", R"({"run_id":"r","run_state":"COMPLETE"})"), snap, final_state));
  EXPECT_EQ(final_state, "COMPLETE");
  // A later snapshot (after a reconnect) keeps tasks it does not list.
  ASSERT_TRUE(
      ApplyRunEvent(Ev("snapshot", R"({"run_state":"COMPLETE","tasks":[]})"), snap, final_state));
  EXPECT_EQ(snap.task_order, (std::vector<std::string>{"t1", "t2"}));
}

}  // namespace
}  // namespace sluice::cli

#include "engine/mock_driver.h"

#include <gtest/gtest.h>

namespace sluice::engine {
namespace {

store::RunRecord MockRun(const std::string& params) {
  store::RunRecord run;
  run.id = "run-1";
  run.state = State::kRunning;
  run.request.workflow_type = "MOCK";
  run.request.workflow_type_version = "1.0";
  run.request.workflow_url = "mock://demo";
  run.request.workflow_params = params;
  return run;
}

store::TaskRecord Task(const std::string& id, State state, std::optional<int> exit = {}) {
  store::TaskRecord t;
  t.run_id = "run-1";
  t.id = id;
  t.state = state;
  t.exit_code = exit;
  return t;
}

TEST(MockDriver, ValidateNamesTheBadField) {
  MockDriver d;
  struct Case {
    std::string params;
    std::string want;
  } cases[] = {
      {R"({"tasks": 0})", "workflow_params.tasks: must be an integer from 1 to 10000, got 0"},
      {R"({"tasks": "3"})", "workflow_params.tasks: must be an integer"},
      {R"({"parallelism": 1.5})", "workflow_params.parallelism: must be an integer"},
      {R"({"failure_rate": 2})", "workflow_params.failure_rate: must be a number from 0 to 1"},
      {R"({"task_seconds": -1})", "workflow_params.task_seconds: must be a number"},
      {R"({"seed": "x"})", "workflow_params.seed: must be an integer"},
      {R"({"taks": 3})", "workflow_params.taks: unknown parameter"},
      {R"([1])", "workflow_params: must be a JSON object"},
      {R"({"tasks":)", "workflow_params: invalid JSON"},
  };
  for (const auto& c : cases) {
    store::RunRecord run = MockRun(c.params);
    Status s = d.Validate(run.request);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.params;
    EXPECT_NE(s.message().find(c.want), std::string::npos) << s.message();
  }
  store::RunRecord bad_url = MockRun("{}");
  bad_url.request.workflow_url = "http://x";
  EXPECT_NE(d.Validate(bad_url.request).message().find("workflow_url"), std::string::npos);
  EXPECT_TRUE(d.Validate(MockRun(R"({"tasks": 5, "task_seconds": 0.25})").request).ok());
}

TEST(MockDriver, StartsUpToParallelismThenTheRest) {
  MockDriver d;
  auto run = MockRun(R"({"tasks": 5, "parallelism": 2})");
  auto first = d.Decide(run, {});
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->start.size(), 2u);
  EXPECT_EQ(first->start[0].task_id, "task-1");
  EXPECT_EQ(first->start[1].task_id, "task-2");
  EXPECT_FALSE(first->finish);

  auto second = d.Decide(run, {Task("task-1", State::kComplete, 0), Task("task-2", State::kRunning)});
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->start.size(), 1u);
  EXPECT_EQ(second->start[0].task_id, "task-3");

  std::vector<store::TaskRecord> all;
  for (int i = 1; i <= 5; ++i) all.push_back(Task("task-" + std::to_string(i), State::kComplete, 0));
  auto done = d.Decide(run, all);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->finish, State::kComplete);
  EXPECT_TRUE(done->start.empty());
  EXPECT_EQ(done->outputs, R"({"tasks_completed":5})");
}

TEST(MockDriver, AFailureStopsNewTasksAndEndsTheRunWhenOthersFinish) {
  MockDriver d;
  auto run = MockRun(R"({"tasks": 5, "parallelism": 2})");
  auto waiting = d.Decide(run, {Task("task-1", State::kExecutorError, 1), Task("task-2", State::kRunning)});
  ASSERT_TRUE(waiting.ok());
  EXPECT_TRUE(waiting->start.empty());
  EXPECT_FALSE(waiting->finish);
  auto ended = d.Decide(run, {Task("task-1", State::kExecutorError, 1), Task("task-2", State::kComplete, 0)});
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(ended->finish, State::kExecutorError);
  EXPECT_NE(ended->reason.find("task-1"), std::string::npos);
  EXPECT_NE(ended->reason.find("exit code 1"), std::string::npos);
}

TEST(MockDriver, SameSeedSameOutcome) {
  auto a = ParseMockParams(R"({"tasks": 200, "failure_rate": 0.3, "seed": 7})", "run-a");
  auto b = ParseMockParams(R"({"tasks": 200, "failure_rate": 0.3, "seed": 7})", "run-b");
  auto c = ParseMockParams(R"({"tasks": 200, "failure_rate": 0.3, "seed": 8})", "run-a");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  int failures = 0, differ = 0;
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(MockTaskFails(*a, i), MockTaskFails(*b, i));
    failures += MockTaskFails(*a, i);
    differ += MockTaskFails(*a, i) != MockTaskFails(*c, i);
  }
  EXPECT_GT(failures, 30);  // about 60 expected at rate 0.3
  EXPECT_LT(failures, 100);
  EXPECT_GT(differ, 0);
}

TEST(MockDriver, FailingTaskExitsNonZeroInItsCommand) {
  MockDriver d;
  auto run = MockRun(R"({"tasks": 1, "failure_rate": 1, "task_seconds": 0.5})");
  auto dec = d.Decide(run, {});
  ASSERT_TRUE(dec.ok());
  ASSERT_EQ(dec->start.size(), 1u);
  const auto& argv = dec->start[0].argv;
  ASSERT_EQ(argv.size(), 3u);
  EXPECT_NE(argv[2].find("sleep 0.500000"), std::string::npos);
  EXPECT_NE(argv[2].find("exit 1"), std::string::npos);
}

}  // namespace
}  // namespace sluice::engine

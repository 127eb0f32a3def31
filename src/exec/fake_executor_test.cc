#include "testing/fake_executor.h"

#include <gtest/gtest.h>

#include "testing/executor_conformance.h"

namespace sluice::exec {
namespace {

ExecutorUnderTest FakeUnderTest() {
  ExecutorUnderTest t;
  t.name = "Fake";
  t.make = [](EventSink& sink) -> Result<std::unique_ptr<Executor>> {
    return std::unique_ptr<Executor>(std::make_unique<FakeExecutor>(sink));
  };
  t.runs_tasks = false;
  return t;
}

SLUICE_INSTANTIATE_EXECUTOR_CONFORMANCE(Fake, FakeUnderTest());

TaskSpec Spec(const std::string& task_id) {
  return TaskSpec{"run", task_id, {"true"}, {}, {}, "/work/" + task_id};
}

TEST(FakeExecutor, SubmitIsIdempotentPerTaskAndRecordsEveryCall) {
  RecordingEventSink sink;
  FakeExecutor fake(sink);
  Result<std::string> a = fake.Submit(Spec("a"));
  Result<std::string> again = fake.Submit(Spec("a"));
  Result<std::string> b = fake.Submit(Spec("b"));
  ASSERT_TRUE(a.ok() && again.ok() && b.ok());
  EXPECT_EQ(*a, *again);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(fake.submit_calls().size(), 3u);
  ASSERT_EQ(fake.started().size(), 2u);
  EXPECT_EQ(fake.started()[1].task_id, "b");
  EXPECT_EQ(fake.JobIdFor("run", "a"), *a);
  EXPECT_EQ(fake.JobIdFor("run", "zzz"), std::nullopt);
  EXPECT_TRUE(sink.events().empty()) << "the fake reports nothing by itself";
}

TEST(FakeExecutor, FinishEmitsToSinkAndAttachRepeatsLastEvent) {
  RecordingEventSink sink;
  FakeExecutor fake(sink);
  Result<std::string> job_id = fake.Submit(Spec("a"));
  ASSERT_TRUE(job_id.ok());
  ASSERT_TRUE(fake.Finish("run", "a", State::kExecutorError, 2, "exit code 2").ok());
  ASSERT_EQ(sink.events().size(), 1u);
  EXPECT_EQ(sink.events()[0].job_id, *job_id);
  EXPECT_EQ(sink.events()[0].exit_code, 2);

  ASSERT_TRUE(fake.Attach(JobRef{"run", "a", *job_id, "/work/a"}).ok());
  ASSERT_EQ(sink.events().size(), 2u);
  EXPECT_EQ(sink.events()[1].state, State::kExecutorError);
  EXPECT_EQ(fake.attach_calls().size(), 1u);
  EXPECT_EQ(fake.Finish("run", "never", State::kComplete).code(), StatusCode::kNotFound);
}

TEST(FakeExecutor, EmitDeliversArbitraryEvents) {
  RecordingEventSink sink;
  FakeExecutor fake(sink);
  ExecutorEvent event;
  event.task_id = "by-hand";
  event.state = State::kRunning;
  fake.Emit(event);
  ASSERT_EQ(sink.EventsFor("by-hand").size(), 1u);
}

TEST(FakeExecutor, FailNextSubmitFailsOnceWithoutStarting) {
  RecordingEventSink sink;
  FakeExecutor fake(sink);
  fake.FailNextSubmit(ResourceExhausted("queue full"));
  EXPECT_EQ(fake.Submit(Spec("a")).status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(fake.started().empty());
  EXPECT_TRUE(fake.Submit(Spec("a")).ok());
}

TEST(FakeExecutor, CancelRecordsKnownJobsOnly) {
  RecordingEventSink sink;
  FakeExecutor fake(sink);
  Result<std::string> job_id = fake.Submit(Spec("a"));
  ASSERT_TRUE(job_id.ok());
  EXPECT_TRUE(fake.Cancel(JobRef{"run", "a", *job_id, "/work/a"}).ok());
  EXPECT_EQ(fake.Cancel(JobRef{"run", "x", "nope", "/work/x"}).code(), StatusCode::kNotFound);
  EXPECT_EQ(fake.cancel_calls().size(), 2u);
}

TEST(FakeExecutor, ShutdownMakesCallsUnavailable) {
  RecordingEventSink sink;
  FakeExecutor fake(sink);
  fake.Shutdown();
  EXPECT_TRUE(fake.shut_down());
  EXPECT_EQ(fake.Submit(Spec("a")).status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace sluice::exec

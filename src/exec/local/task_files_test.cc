#include "exec/local/task_files.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace sluice::exec::local {
namespace {

TEST(ExitRecord, RoundTripsWithAndWithoutSignal) {
  for (const ExitRecord& in : {ExitRecord{0, std::nullopt, 10, 20}, ExitRecord{137, 9, 5, 5}}) {
    Result<ExitRecord> out = ParseExitRecord(SerializeExitRecord(in));
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_EQ(out->exit_code, in.exit_code);
    EXPECT_EQ(out->signal, in.signal);
    EXPECT_EQ(out->start_time, in.start_time);
    EXPECT_EQ(out->end_time, in.end_time);
  }
}

TEST(ExitRecord, RejectsMalformedRecords) {
  for (const char* text :
       {"", "[]", "{\"exit_code\": 0}",
        "{\"exit_code\": \"0\", \"signal\": null, \"start_time\": 1, \"end_time\": 2}",
        "{\"exit_code\": 0, \"signal\": \"TERM\", \"start_time\": 1, \"end_time\": 2}",
        "{\"exit_code\": 0, \"signal\": null, \"start_time\": 1.5, \"end_time\": 2}"}) {
    Result<ExitRecord> out = ParseExitRecord(text);
    ASSERT_FALSE(out.ok()) << text;
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument) << text;
  }
}

TEST(ParsePid, AcceptsDigitsWithNewlineOnly) {
  EXPECT_EQ(*ParsePid("123\n"), 123);
  for (const char* text : {"", "\n", "-5", "1", "12a", "a12", "99999999999999"}) {
    EXPECT_FALSE(ParsePid(text).ok()) << text;
  }
}

class TaskDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = std::filesystem::temp_directory_path().string() + "/sluice-files-XXXXXX";
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
  }
  std::string dir_;
};

TEST_F(TaskDirTest, WriteFileAtomicallyReplacesContentAndLeavesNoTemporaries) {
  ASSERT_TRUE(WriteFileAtomically(dir_, "f", "one").ok());
  ASSERT_TRUE(WriteFileAtomically(dir_, "f", "two").ok());
  EXPECT_EQ(*ReadFile(dir_ + "/f"), "two");
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST_F(TaskDirTest, ReadFileOfMissingFileIsNotFound) {
  EXPECT_EQ(ReadFile(dir_ + "/missing").status().code(), StatusCode::kNotFound);
}

TEST_F(TaskDirTest, ObservesNoTraceInEmptyDir) {
  Result<TaskObservation> obs = ObserveTask(dir_, true, 0);
  ASSERT_TRUE(obs.ok()) << obs.status().ToString();
  EXPECT_EQ(obs->kind, TaskObservation::Kind::kNoTrace);
}

TEST_F(TaskDirTest, ObservesVanishedWhenStartedWithoutLiveWrapperOrExit) {
  Write("pid", "4242\n");
  Write("cancel_requested", "x");
  Result<TaskObservation> obs = ObserveTask(dir_, true, 0);
  ASSERT_TRUE(obs.ok()) << obs.status().ToString();
  EXPECT_EQ(obs->kind, TaskObservation::Kind::kVanished);
  EXPECT_EQ(obs->pid, 4242);
  EXPECT_TRUE(obs->cancel_requested);
}

TEST_F(TaskDirTest, ObservesEndedWithRecord) {
  Write("pid", "4242\n");
  Write("exit_code", SerializeExitRecord({3, std::nullopt, 1, 2}));
  Result<TaskObservation> obs = ObserveTask(dir_, true, 0);
  ASSERT_TRUE(obs.ok()) << obs.status().ToString();
  EXPECT_EQ(obs->kind, TaskObservation::Kind::kEnded);
  ASSERT_TRUE(obs->exit.has_value());
  EXPECT_EQ(obs->exit->exit_code, 3);
  EXPECT_FALSE(obs->cancel_requested);
}

TEST_F(TaskDirTest, ObservesRunningWhileLockIsHeld) {
  // This process stands in for the wrapper: it holds the lock and its pid is recorded.
  UniqueFd lock(::open((dir_ + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  ASSERT_EQ(::flock(lock.get(), LOCK_EX | LOCK_NB), 0);
  Write("pid", std::to_string(::getpid()) + "\n");
  Result<TaskObservation> obs = ObserveTask(dir_, true, 0);
  ASSERT_TRUE(obs.ok()) << obs.status().ToString();
  EXPECT_EQ(obs->kind, TaskObservation::Kind::kRunning);
  EXPECT_EQ(obs->pid, ::getpid());
  EXPECT_TRUE(obs->pidfd.valid());
  EXPECT_EQ(ProbeLock(dir_ + "/lock"), LockState::kHeld);
}

TEST_F(TaskDirTest, ProbesDoNotMistakeEachOtherForAWrapper) {
  // Another observer in the middle of its own probe holds a shared lock.
  UniqueFd prober(::open((dir_ + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  ASSERT_EQ(::flock(prober.get(), LOCK_SH | LOCK_NB), 0);
  EXPECT_EQ(ProbeLock(dir_ + "/lock"), LockState::kFree);
  Write("pid", "4242\n");
  Write("exit_code", SerializeExitRecord({0, std::nullopt, 1, 2}));
  Result<TaskObservation> obs = ObserveTask(dir_, true, 0);
  ASSERT_TRUE(obs.ok()) << obs.status().ToString();
  EXPECT_EQ(obs->kind, TaskObservation::Kind::kEnded);
}

TEST_F(TaskDirTest, ObserveEndedTaskIgnoresTheLock) {
  // A Submit that is about to find the task started holds the lock for an instant; the
  // monitor, which knows the wrapper is gone, must still see the recorded end.
  UniqueFd submitter(::open((dir_ + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  ASSERT_EQ(::flock(submitter.get(), LOCK_EX | LOCK_NB), 0);
  Write("pid", "4242\n");
  Write("exit_code", SerializeExitRecord({0, std::nullopt, 1, 2}));
  Result<TaskObservation> obs = ObserveEndedTask(dir_);
  ASSERT_TRUE(obs.ok()) << obs.status().ToString();
  EXPECT_EQ(obs->kind, TaskObservation::Kind::kEnded);
}

TEST_F(TaskDirTest, LockHeldWithoutPidFileIsUnavailable) {
  UniqueFd lock(::open((dir_ + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  ASSERT_EQ(::flock(lock.get(), LOCK_EX | LOCK_NB), 0);
  Result<TaskObservation> obs = ObserveTask(dir_, true, 20'000);
  ASSERT_FALSE(obs.ok());
  EXPECT_EQ(obs.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace sluice::exec::local

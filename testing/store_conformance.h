// The RunStore conformance suite: one set of GoogleTest cases every RunStore backend must
// pass (SQLite, the in-memory fake, later PostgreSQL). It checks the contract written in
// store/run_store.h, including the choices that contract leaves to the suite to pin down:
//  - checks run in this order: kNotFound, kConflict (expected_from), same state (no-op),
//    kFailedPrecondition; CreateTask returns false for an existing task before checking
//    whether the run is terminal;
//  - a same-state transition fills only fields the row lacks (times, outputs when "{}",
//    executor_job_id, exit_code), appends no system_log and no history event;
//  - ListTasks/ListHistory/GetTask of an unknown run are kNotFound; page_size < 1, an empty
//    run/task id or claim owner are kInvalidArgument;
//  - CountRunsByState lists only states with at least one run;
//  - a lease is expired when lease_until < now (strictly);
//  - after ArchiveEndedRuns every read is unchanged; an archived run's tasks are read-only: a
//    same-state TransitionTask returns changed=false and fills nothing in, CreateTask of an
//    existing task returns false (store_conformance_archive.cc).
//
// Use: in the backend's test file,
//   SLUICE_INSTANTIATE_RUN_STORE_CONFORMANCE(Sqlite, RunStoreBackend{"Sqlite", factory});
//
// Thread-safety: test code; each test gets a fresh store.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "store/run_store.h"

namespace sluice::store {

struct RunStoreBackend {
  std::string name;  // test name suffix, e.g. "Sqlite"
  // Makes a fresh, empty store. `scratch_dir` is a new empty directory that outlives the
  // store; backends that need no files ignore it.
  std::function<Result<std::unique_ptr<RunStore>>(const std::string& scratch_dir)> make;
};

class RunStoreConformanceTest : public ::testing::TestWithParam<RunStoreBackend> {
 protected:
  void SetUp() override;
  void TearDown() override;
  RunStore& store() { return *store_; }

 private:
  std::string scratch_dir_;
  std::unique_ptr<RunStore> store_;
};

// Referenced by the macro below so the linker keeps the suite's object file (it would drop
// it from the static library otherwise: nothing else in a test refers to it).
int RunStoreConformanceLinkAnchor();
int RunStoreConcurrencyConformanceAnchor();
int RunStoreOutboxConformanceAnchor();
int RunStoreIndexConformanceAnchor();
int RunStoreArchiveConformanceAnchor();

}  // namespace sluice::store

// gtest pastes the fixture name into identifiers, so the macro names it through a local alias.
#define SLUICE_INSTANTIATE_RUN_STORE_CONFORMANCE(prefix, ...)                      \
  [[maybe_unused]] static const int prefix##_run_store_conformance_anchor =        \
      ::sluice::store::RunStoreConformanceLinkAnchor();                            \
  using RunStoreConformanceTest = ::sluice::store::RunStoreConformanceTest;        \
  INSTANTIATE_TEST_SUITE_P(                                                        \
      prefix, RunStoreConformanceTest, ::testing::Values(__VA_ARGS__),             \
      [](const ::testing::TestParamInfo<::sluice::store::RunStoreBackend>& info) { \
        return info.param.name;                                                    \
      })

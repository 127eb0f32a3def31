// MockDriver: the `MOCK` workflow type (seed 001's mock pipeline), version 1.0.
//
// workflow_params (a JSON object, every field optional):
//   tasks         integer 1..10000, default 3      how many tasks
//   parallelism   integer 1..1000, default 2       how many run at once
//   task_seconds  number 0..86400, default 1       each task's duration (fractions allowed)
//   failure_rate  number 0..1, default 0           probability that a task fails
//   seed          integer, default derived from the run id   same seed, same outcome
// workflow_url must start with "mock://".
//
// Each task is a real process (`/bin/sh -c "...; sleep S; exit N"`), so the executor is
// exercised for real. Which tasks fail is a pure function of (seed, task index). After a
// failure no new task starts; once the running ones end, the run is EXECUTOR_ERROR.
//
// Thread-safety: immutable, safe to share.
#pragma once

#include <cstdint>

#include "engine/driver.h"

namespace sluice::engine {

struct MockParams {
  int tasks = 3;
  int parallelism = 2;
  double task_seconds = 1;
  double failure_rate = 0;
  uint64_t seed = 0;
};

// Parses and checks workflow_params; `run_id` seeds the outcome when no seed is given.
Result<MockParams> ParseMockParams(const std::string& workflow_params, const std::string& run_id);

// Whether task `index` fails under `params` (deterministic).
bool MockTaskFails(const MockParams& params, int index);

class MockDriver final : public WorkflowDriver {
 public:
  std::vector<std::string> Versions() const override { return {"1.0"}; }
  Status Validate(const store::RunRequest& request,
                  const std::vector<SubmittedFile>& /*files*/) const override {
    return Validate(request);
  }
  Result<Decision> Decide(const store::RunRecord& run, const std::vector<store::TaskRecord>& tasks,
                          DriverContext& /*context*/) const override {
    return Decide(run, tasks);
  }
  // MOCK needs neither files nor a context.
  Status Validate(const store::RunRequest& request) const;
  Result<Decision> Decide(const store::RunRecord& run,
                          const std::vector<store::TaskRecord>& tasks) const;
};

}  // namespace sluice::engine

// Helpers shared by the RunStore conformance suite's files (not for other tests): status
// assertions and builders of sample runs, tasks and transitions.
// Thread-safety: pure functions.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "common/status.h"
#include "store/run_store.h"

namespace sluice::store::conformance {

// Status of a Status or a Result, for the macros below.
inline const Status& StatusOf(const Status& s) { return s; }
template <typename T>
const Status& StatusOf(const Result<T>& r) {
  return r.status();
}

#define ASSERT_OK(expr) ASSERT_TRUE(StatusOf(expr).ok()) << StatusOf(expr).ToString()
#define EXPECT_OK(expr) EXPECT_TRUE(StatusOf(expr).ok()) << StatusOf(expr).ToString()
#define EXPECT_CODE(expr, want) \
  EXPECT_EQ(StatusOf(expr).code(), StatusCode::want) << StatusOf(expr).ToString()
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(SLUICE_CONCAT_(_conf_res_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(res, lhs, expr) \
  auto res = (expr);                               \
  ASSERT_OK(res);                                  \
  lhs = std::move(res).value()

inline RunRequest SampleRequest(const std::string& variant = "a") {
  RunRequest r;
  r.workflow_type = "MOCK";
  r.workflow_type_version = "1.0";
  r.workflow_url = "mock://" + variant;
  r.workflow_params = R"({"tasks": 3, "name": ")" + variant + R"("})";
  r.workflow_engine = "sluice";
  r.workflow_engine_version = "0.1";
  r.workflow_engine_parameters = {{"threads", "4"}, {"queue", "short"}};
  r.tags = {{"project", "pavi"}, {"user", "ana"}, {"unicode", "Zürich ✓"}};
  r.attachments = {"main.asl.json", "inputs/a b.txt"};
  return r;
}

inline NewRun MakeRun(const std::string& id, Micros at = 1000, const std::string& key = "") {
  NewRun n;
  n.id = id;
  n.request = SampleRequest();
  n.submitted_at = at;
  n.idempotency_key = key;
  return n;
}

inline RunTransition To(const std::string& id, State to, Micros at, std::string reason = "") {
  RunTransition t;
  t.run_id = id;
  t.to = to;
  t.at = at;
  t.reason = std::move(reason);
  return t;
}

inline TaskRecord MakeTask(const std::string& run_id, const std::string& id, Micros at = 2000) {
  TaskRecord t;
  t.run_id = run_id;
  t.id = id;
  t.name = "step " + id;
  t.cmd = {"echo", "hello world", id};
  t.launch_spec = R"({"env":{"K":"v"},"cpus":2})";
  t.state = State::kQueued;
  t.executor = "local";
  t.created_at = at;
  return t;
}

inline TaskTransition TaskTo(const std::string& run_id, const std::string& task_id, State to,
                             Micros at, std::string reason = "") {
  TaskTransition t;
  t.run_id = run_id;
  t.task_id = task_id;
  t.to = to;
  t.at = at;
  t.reason = std::move(reason);
  return t;
}

inline std::string RunId(int i) {
  char buf[32];
  snprintf(buf, sizeof(buf), "run-%05d", i);
  return buf;
}

}  // namespace sluice::store::conformance

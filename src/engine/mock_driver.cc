#include "engine/mock_driver.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/json.h"

namespace sluice::engine {
namespace {

constexpr int kMaxTasks = 10000;
constexpr int kMaxParallelism = 1000;
constexpr double kMaxTaskSeconds = 86400;

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t Fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

Status IntField(const Json& params, const char* name, int lo, int hi, int& out) {
  auto it = params.find(name);
  if (it == params.end()) return Status::Ok();
  if (!it->is_number_integer() || it->get<int64_t>() < lo || it->get<int64_t>() > hi) {
    return InvalidArgument(std::string("workflow_params.") + name + ": must be an integer from " +
                           std::to_string(lo) + " to " + std::to_string(hi) + ", got " +
                           it->dump());
  }
  out = it->get<int>();
  return Status::Ok();
}

Status NumberField(const Json& params, const char* name, double lo, double hi, double& out) {
  auto it = params.find(name);
  if (it == params.end()) return Status::Ok();
  if (!it->is_number() || it->get<double>() < lo || it->get<double>() > hi) {
    char range[64];
    std::snprintf(range, sizeof range, "%g to %g", lo, hi);
    return InvalidArgument(std::string("workflow_params.") + name + ": must be a number from " +
                           range + ", got " + it->dump());
  }
  out = it->get<double>();
  return Status::Ok();
}

std::string TaskId(int index) { return "task-" + std::to_string(index + 1); }

// The index encoded in a task id we issued, or -1.
int TaskIndex(const std::string& id) {
  if (id.rfind("task-", 0) != 0) return -1;
  try {
    return std::stoi(id.substr(5)) - 1;
  } catch (...) {
    return -1;
  }
}

bool IsFailure(State s) {
  return s == State::kExecutorError || s == State::kSystemError || s == State::kCanceled ||
         s == State::kPreempted;
}

}  // namespace

Result<MockParams> ParseMockParams(const std::string& workflow_params, const std::string& run_id) {
  ASSIGN_OR_RETURN(Json params, ParseJson(workflow_params.empty() ? "{}" : workflow_params,
                                          "workflow_params"));
  if (!params.is_object()) return InvalidArgument("workflow_params: must be a JSON object");
  static const char* kKnown[] = {"tasks", "parallelism", "task_seconds", "failure_rate", "seed"};
  for (const auto& [key, value] : params.items()) {
    bool known = false;
    for (const char* k : kKnown) known = known || key == k;
    if (!known) {
      return InvalidArgument("workflow_params." + key +
                             ": unknown parameter for MOCK (known: tasks, parallelism, "
                             "task_seconds, failure_rate, seed)");
    }
  }
  MockParams p;
  RETURN_IF_ERROR(IntField(params, "tasks", 1, kMaxTasks, p.tasks));
  RETURN_IF_ERROR(IntField(params, "parallelism", 1, kMaxParallelism, p.parallelism));
  RETURN_IF_ERROR(NumberField(params, "task_seconds", 0, kMaxTaskSeconds, p.task_seconds));
  RETURN_IF_ERROR(NumberField(params, "failure_rate", 0, 1, p.failure_rate));
  if (auto it = params.find("seed"); it != params.end()) {
    if (!it->is_number_integer()) {
      return InvalidArgument("workflow_params.seed: must be an integer, got " + it->dump());
    }
    p.seed = it->is_number_unsigned() ? it->get<uint64_t>()
                                      : static_cast<uint64_t>(it->get<int64_t>());
  } else {
    p.seed = Fnv1a(run_id);
  }
  return p;
}

bool MockTaskFails(const MockParams& params, int index) {
  if (params.failure_rate <= 0) return false;
  if (params.failure_rate >= 1) return true;
  uint64_t r = SplitMix64(params.seed ^ SplitMix64(static_cast<uint64_t>(index)));
  double u = static_cast<double>(r >> 11) * 0x1.0p-53;  // uniform in [0, 1)
  return u < params.failure_rate;
}

Status MockDriver::Validate(const store::RunRequest& request) const {
  if (request.workflow_url.rfind("mock://", 0) != 0) {
    return InvalidArgument("workflow_url: a MOCK workflow_url must start with \"mock://\", got \"" +
                           request.workflow_url + "\"");
  }
  return ParseMockParams(request.workflow_params, "").status();
}

Result<Decision> MockDriver::Decide(const store::RunRecord& run,
                                    const std::vector<store::TaskRecord>& tasks) const {
  ASSIGN_OR_RETURN(MockParams p, ParseMockParams(run.request.workflow_params, run.id));
  Decision d;
  int running = 0;
  int completed = 0;
  int next_index = 0;
  const store::TaskRecord* first_failure = nullptr;
  for (const auto& t : tasks) {
    int index = TaskIndex(t.id);
    if (index < 0) return Internal("run " + run.id + ": task id \"" + t.id + "\" is not MOCK's");
    next_index = std::max(next_index, index + 1);
    if (!IsTerminal(t.state)) {
      ++running;
    } else if (t.state == State::kComplete) {
      ++completed;
    } else if (IsFailure(t.state) && first_failure == nullptr) {
      first_failure = &t;
    }
  }
  if (first_failure != nullptr) {
    if (running == 0) {
      d.finish = first_failure->state == State::kSystemError ? State::kSystemError
                                                              : State::kExecutorError;
      d.reason = "task " + first_failure->id + " ended " +
                 std::string(StateName(first_failure->state)) +
                 (first_failure->exit_code ? " with exit code " +
                                                 std::to_string(*first_failure->exit_code)
                                           : std::string());
    }
    return d;
  }
  if (completed == p.tasks) {
    d.finish = State::kComplete;
    d.reason = "all " + std::to_string(p.tasks) + " tasks completed";
    d.outputs = nlohmann::json{{"tasks_completed", p.tasks}}.dump();
    return d;
  }
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.6f", p.task_seconds);
  for (int i = next_index; i < p.tasks && running < p.parallelism; ++i, ++running) {
    bool fails = MockTaskFails(p, i);
    std::string label = "mock task " + std::to_string(i + 1) + "/" + std::to_string(p.tasks);
    std::string script = "echo '" + label + ": working for " + secs + "s'; ";
    if (p.task_seconds > 0) script += std::string("sleep ") + secs + "; ";  // no process for 0 s
    script += fails ? "echo '" + label + ": failing as planned' >&2; exit 1"
                    : "echo '" + label + ": done'";
    TaskPlan plan;
    plan.task_id = TaskId(i);
    plan.name = "mock-" + std::to_string(i + 1);
    plan.argv = {"/bin/sh", "-c", script};
    d.start.push_back(std::move(plan));
  }
  return d;
}

}  // namespace sluice::engine

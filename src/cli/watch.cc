#include "cli/watch.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/command.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "common/clock.h"
#include "common/state.h"

namespace sluice::cli {
namespace {

// A server restarting (it is allowed to, runs survive it) should not end a watch: transport
// failures are retried for about this many polls before giving up.
constexpr int kMaxConsecutiveUnavailable = 60;

class PollingSource final : public ProgressSource {
 public:
  PollingSource(WesClient& client, std::string run_id, std::chrono::milliseconds interval)
      : client_(client), run_id_(std::move(run_id)), interval_(interval) {}

  Result<RunSnapshot> Next() override {
    if (!first_) std::this_thread::sleep_for(interval_);
    first_ = false;
    ASSIGN_OR_RETURN(Json status, client_.GetRunStatus(run_id_));
    ASSIGN_OR_RETURN(std::vector<Json> tasks, client_.ListAllTasks(run_id_));
    RunSnapshot snap;
    snap.state = StringField(status, "state", "UNKNOWN");
    for (const Json& task : tasks) {
      std::string id = StringField(task, "id");
      if (id.empty() || snap.tasks.count(id) != 0) continue;
      snap.task_order.push_back(id);
      snap.tasks[id] = TaskSnapshot{StringField(task, "name", id), TaskState(task)};
    }
    return snap;
  }

 private:
  WesClient& client_;
  std::string run_id_;
  std::chrono::milliseconds interval_;
  bool first_ = true;
};

bool IsTerminalName(const std::string& state) {
  std::optional<State> s = ParseState(state);
  return s.has_value() && IsTerminal(*s);
}

class WatchCommand final : public Command {
 public:
  explicit WatchCommand(CLI::App* app) : Command(app) {
    AddServerOption(*app, client_);
    app->add_option("RUN", run_id_, "Run id")->required();
  }

  int Run() override {
    HttpClient http(client_.server);
    WesClient wes(http);
    auto source = MakePollingSource(wes, run_id_, std::chrono::milliseconds(500));
    return WatchRun(*source, stdout);
  }

 private:
  ClientOptions client_;
  std::string run_id_;
};

}  // namespace

std::unique_ptr<ProgressSource> MakePollingSource(WesClient& client, std::string run_id,
                                                  std::chrono::milliseconds interval) {
  return std::make_unique<PollingSource>(client, std::move(run_id), interval);
}

std::vector<std::string> DiffSnapshots(const RunSnapshot* prev, const RunSnapshot& next) {
  std::vector<std::string> lines;
  for (const std::string& id : next.task_order) {
    const TaskSnapshot& task = next.tasks.at(id);
    if (prev != nullptr) {
      auto it = prev->tasks.find(id);
      if (it != prev->tasks.end() && it->second.state == task.state) continue;
    }
    lines.push_back(task.label + " " + task.state);
  }
  if (prev == nullptr || prev->state != next.state) lines.push_back("run " + next.state);
  return lines;
}

int WatchRun(ProgressSource& source, std::FILE* out) {
  SystemClock clock;
  std::optional<RunSnapshot> prev;
  int unavailable = 0;
  while (true) {
    Result<RunSnapshot> next = source.Next();
    if (!next.ok()) {
      if (next.status().code() == StatusCode::kUnavailable &&
          ++unavailable < kMaxConsecutiveUnavailable) {
        if (unavailable == 1) {
          std::fprintf(stderr, "warning: %s; retrying\n", next.status().message().c_str());
        }
        continue;
      }
      return ReportError(next.status());
    }
    unavailable = 0;
    std::string now = FormatClockTime(clock.Now());
    for (const std::string& line : DiffSnapshots(prev ? &*prev : nullptr, *next)) {
      std::fprintf(out, "%s %s\n", now.c_str(), line.c_str());
    }
    std::fflush(out);
    if (IsTerminalName(next->state)) {
      return next->state == StateName(State::kComplete) ? kExitOk : kExitRunNotComplete;
    }
    prev = std::move(*next);
  }
}

std::unique_ptr<Command> AddWatchCommand(CLI::App& parent) {
  return std::make_unique<WatchCommand>(
      parent.add_subcommand("watch", "Follow a run's progress until it ends (exit 0 if COMPLETE)"));
}

}  // namespace sluice::cli

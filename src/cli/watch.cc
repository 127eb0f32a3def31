#include "cli/watch.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/args.h"
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
    std::optional<int> streamed = WatchRunEvents(http, run_id_, stdout);
    if (streamed) return *streamed;
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

bool ApplyRunEvent(const SseEvent& event, RunSnapshot& snap, std::string& final_state) {
  if (event.event != "snapshot" && event.event != "end" && event.event != "RunStateChanged" &&
      event.event != "TaskCreated" && event.event != "TaskStateChanged") {
    return false;
  }
  Json data = Json::parse(event.data, nullptr, /*allow_exceptions=*/false);
  if (!data.is_object()) return false;
  if (event.event == "snapshot") {
    RunSnapshot next;
    next.state = StringField(data, "run_state", "UNKNOWN");
    auto tasks = data.find("tasks");
    if (tasks != data.end() && tasks->is_array()) {
      for (const Json& t : *tasks) {
        std::string id = StringField(t, "task_id");
        if (id.empty() || next.tasks.count(id) != 0) continue;
        std::string name = StringField(t, "name");
        next.task_order.push_back(id);
        next.tasks[id] = TaskSnapshot{name.empty() ? id : name, StringField(t, "state")};
      }
    }
    // Tasks seen before keep their place (a reconnect's snapshot is a superset).
    for (const std::string& id : snap.task_order) {
      if (next.tasks.count(id) == 0) {
        next.task_order.push_back(id);
        next.tasks[id] = snap.tasks.at(id);
      }
    }
    snap = std::move(next);
    return true;
  }
  if (event.event == "end") {
    final_state = StringField(data, "run_state", "UNKNOWN");
    snap.state = final_state;
    return true;
  }
  std::string to = StringField(data, "to");
  if (to.empty()) return false;
  if (event.event == "RunStateChanged") {
    snap.state = to;
    return true;
  }
  std::string id = StringField(data, "task_id");
  if (id.empty()) return false;
  auto it = snap.tasks.find(id);
  if (it == snap.tasks.end()) {
    snap.task_order.push_back(id);
    snap.tasks[id] = TaskSnapshot{id, to};
  } else {
    it->second.state = to;
  }
  return true;
}

namespace {

// Events carry no task names, so the tasks created after the stream's snapshot (those in
// snap.task_order from *named_upto on) are looked up once each. A failed lookup leaves the
// task shown by its id.
void NameNewTasks(WesClient& wes, const std::string& run_id, RunSnapshot& snap,
                  size_t* named_upto) {
  for (; *named_upto < snap.task_order.size(); ++*named_upto) {
    const std::string& id = snap.task_order[*named_upto];
    TaskSnapshot& task = snap.tasks.at(id);
    if (task.label != id) continue;
    Result<Json> found = wes.GetTask(run_id, id);
    if (!found.ok()) continue;
    std::string name = StringField(*found, "name");
    if (!name.empty()) task.label = std::move(name);
  }
}

}  // namespace

std::optional<int> WatchRunEvents(HttpClient& http, const std::string& run_id, std::FILE* out) {
  SystemClock clock;
  // Lookups go over a connection of their own: the stream holds `http`'s.
  HttpClient lookup_http(http.base_url());
  WesClient lookup(lookup_http);
  size_t named_upto = 0;
  const std::string path = "/api/v1/runs/" + EscapeUrlComponent(run_id) + "/events";
  std::optional<RunSnapshot> shown;  // what has been printed
  RunSnapshot snap;
  std::string final_state;
  std::string last_id;
  int failures = 0;
  bool any_event = false;
  while (true) {
    std::vector<std::string> headers;
    if (!last_id.empty()) headers.push_back("Last-Event-ID: " + last_id);
    SseParser parser;
    auto on_data = [&](std::string_view chunk) {
      for (const SseEvent& e : parser.Feed(chunk)) {
        if (!e.id.empty()) last_id = e.id;
        if (!ApplyRunEvent(e, snap, final_state)) continue;
        if (e.event == "snapshot") {
          named_upto = snap.task_order.size();  // named by the server
        } else {
          NameNewTasks(lookup, run_id, snap, &named_upto);
        }
        any_event = true;
        failures = 0;
        std::string now = FormatClockTime(clock.Now());
        for (const std::string& line : DiffSnapshots(shown ? &*shown : nullptr, snap)) {
          std::fprintf(out, "%s %s\n", now.c_str(), line.c_str());
        }
        std::fflush(out);
        shown = snap;
        if (!final_state.empty()) return false;
      }
      return true;
    };
    Result<HttpResponse> response = http.GetStream(path, headers, on_data);
    if (!final_state.empty()) {
      return final_state == StateName(State::kComplete) ? kExitOk : kExitRunNotComplete;
    }
    if (response.ok() && (response->status == 404 || response->status == 405) && !any_event) {
      // An older server answers "no such endpoint"; an unknown run is an error as before.
      Status error = ErrorFromResponse(*response);
      if (response->status == 405 ||
          error.message().find("no such endpoint") != std::string::npos) {
        return std::nullopt;
      }
      return ReportError(error);
    }
    if (response.ok() && response->status == 410) {
      last_id.clear();  // the gap cannot be filled: start over from a fresh snapshot
      continue;
    }
    bool retry = !response.ok() || response->status == 503 || response->status == 200;
    if (!retry) return ReportError(ErrorFromResponse(*response));
    if (++failures >= kMaxConsecutiveUnavailable) {
      return ReportError(response.ok() ? Unavailable("the event stream keeps ending")
                                       : response.status());
    }
    if (failures == 1 && !response.ok()) {
      std::fprintf(stderr, "warning: %s; retrying\n", response.status().message().c_str());
    }
    long wait_ms = parser.retry_ms() > 0 ? parser.retry_ms() : 1000;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(wait_ms, 5000L)));
  }
}

std::unique_ptr<Command> AddWatchCommand(CLI::App& parent) {
  return std::make_unique<WatchCommand>(
      parent.add_subcommand("watch", "Follow a run's progress until it ends (exit 0 if COMPLETE)"));
}

}  // namespace sluice::cli

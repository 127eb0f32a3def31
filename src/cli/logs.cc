// `sluice logs RUN [TASK] [--stderr] [--follow]`: one task's captured output, or every
// task's. TASK is a task id, or a task name as `sluice watch` shows them when no task has that
// id. --follow prints a task's output as it grows until the task ends.
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/command.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "cli/wes_client.h"
#include "common/state.h"

namespace sluice::cli {
namespace {

constexpr auto kFollowInterval = std::chrono::milliseconds(500);

class LogsCommand final : public Command {
 public:
  explicit LogsCommand(CLI::App* app) : Command(app) {
    AddClientOptions(*app, client_);
    app->add_option("RUN", run_id_, "Run id")->required();
    app->add_option("TASK", task_id_, "Task id, or task name (default: every task)");
    app->add_flag("--stderr", stderr_, "Show stderr instead of stdout");
    app->add_flag("-f,--follow", follow_,
                  "Keep printing the task's output as it grows until the task ends (exit 0 if "
                  "it completed, 1 otherwise); needs TASK");
  }

  int Run() override {
    HttpClient http(client_.server);
    WesClient wes(http);
    const char* stream = stderr_ ? "stderr" : "stdout";
    if (follow_ && task_id_.empty()) {
      return ReportError(InvalidArgument("--follow: give the TASK to follow"));
    }
    if (follow_) return Follow(wes, stream);
    if (!task_id_.empty()) {
      Result<std::string> text = wes.TaskLog(run_id_, task_id_, stream);
      if (!text.ok() && text.status().code() == StatusCode::kNotFound) {
        Result<std::optional<std::string>> named = TaskIdByName(wes);
        if (!named.ok()) return ReportError(named.status());
        if (named->has_value()) text = wes.TaskLog(run_id_, **named, stream);
      }
      if (!text.ok()) return ReportError(text.status());
      std::cout << *text << std::flush;
      return kExitOk;
    }

    Result<std::vector<Json>> tasks = wes.ListAllTasks(run_id_);
    if (!tasks.ok()) return ReportError(tasks.status());
    if (client_.json) {
      PrintJson(Json{{"task_logs", *tasks}, {"next_page_token", ""}});
      return kExitOk;
    }
    for (const Json& task : *tasks) {
      std::string id = StringField(task, "id");
      std::string exit_code = StringField(task, "exit_code", "-");
      std::cout << "== " << StringField(task, "name", id) << " (" << id << ") " << TaskState(task)
                << ", exit code " << exit_code << " ==" << std::endl;
      Result<std::string> text = wes.TaskLog(run_id_, id, stream);
      if (text.ok()) {
        std::cout << *text;
        if (!text->empty() && text->back() != '\n') std::cout << '\n';
      } else if (text.status().code() == StatusCode::kNotFound) {
        // A task that has not started has no log yet; that is not an error.
        std::cout << "(no " << stream << ")\n";
      } else {
        return ReportError(text.status());
      }
    }
    std::cout << std::flush;
    return kExitOk;
  }

 private:
  // Waits for the task (by id or name) to exist while the run goes on, then prints its output
  // from the start and what is added, until the task has ended. The task's state is read
  // before its output: once it was terminal, that read got everything.
  int Follow(WesClient& wes, const char* stream) const {
    std::string task_id;
    while (task_id.empty()) {
      Result<Json> by_id = wes.GetTask(run_id_, task_id_);
      if (by_id.ok()) {
        task_id = task_id_;
        break;
      }
      if (by_id.status().code() != StatusCode::kNotFound) return ReportError(by_id.status());
      Result<std::optional<std::string>> named = TaskIdByName(wes);
      if (!named.ok()) return ReportError(named.status());
      if (named->has_value()) {
        task_id = **named;
        break;
      }
      Result<Json> run = wes.GetRunStatus(run_id_);
      if (!run.ok()) return ReportError(run.status());
      std::optional<State> run_state = ParseState(StringField(*run, "state"));
      if (run_state.has_value() && IsTerminal(*run_state)) {
        return ReportError(NotFound("run " + run_id_ + " ended (" + StringField(*run, "state") +
                                    ") without a task " + task_id_));
      }
      std::this_thread::sleep_for(kFollowInterval);
    }
    uint64_t offset = 0;
    while (true) {
      Result<Json> task = wes.GetTask(run_id_, task_id);
      if (!task.ok()) return ReportError(task.status());
      const std::string state = TaskState(*task);
      std::optional<State> parsed = ParseState(state);
      const bool ended = parsed.has_value() && IsTerminal(*parsed);
      Result<std::string> text = wes.TaskLog(run_id_, task_id, stream, offset);
      if (text.ok()) {
        std::cout << *text << std::flush;
        offset += text->size();
      } else if (text.status().code() != StatusCode::kNotFound) {
        return ReportError(text.status());  // kNotFound: not started, no output yet
      }
      if (ended) return state == StateName(State::kComplete) ? kExitOk : kExitRunNotComplete;
      std::this_thread::sleep_for(kFollowInterval);
    }
  }

  // The id of the one task named task_id_; nullopt if none is. kInvalidArgument if several.
  Result<std::optional<std::string>> TaskIdByName(WesClient& wes) const {
    ASSIGN_OR_RETURN(std::vector<Json> tasks, wes.ListAllTasks(run_id_));
    std::vector<std::string> ids;
    for (const Json& task : tasks) {
      if (StringField(task, "name") == task_id_) ids.push_back(StringField(task, "id"));
    }
    if (ids.empty()) return std::optional<std::string>();
    if (ids.size() > 1) {
      std::string list;
      for (const std::string& id : ids) list += (list.empty() ? "" : ", ") + id;
      return InvalidArgument("TASK: " + std::to_string(ids.size()) + " tasks are named \"" +
                             task_id_ + "\" (" + list + "); give a task id");
    }
    return std::optional<std::string>(ids.front());
  }

  ClientOptions client_;
  std::string run_id_;
  std::string task_id_;
  bool stderr_ = false;
  bool follow_ = false;
};

}  // namespace

std::unique_ptr<Command> AddLogsCommand(CLI::App& parent) {
  return std::make_unique<LogsCommand>(parent.add_subcommand("logs", "Show task output"));
}

}  // namespace sluice::cli

// `sluice status RUN`: the run's state and times (GET /runs/{id}) and a task summary.
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "cli/wes_client.h"

namespace sluice::cli {
namespace {

class StatusCommand final : public Command {
 public:
  explicit StatusCommand(CLI::App* app) : Command(app) {
    AddClientOptions(*app, client_);
    app->add_option("RUN", run_id_, "Run id")->required();
  }

  int Run() override {
    HttpClient http(client_.server);
    WesClient wes(http);
    Result<Json> run = wes.GetRunLog(run_id_);
    if (!run.ok()) return ReportError(run.status());
    if (client_.json) {
      PrintJson(*run);
      return kExitOk;
    }
    Result<std::vector<Json>> tasks = wes.ListAllTasks(run_id_);
    if (!tasks.ok()) return ReportError(tasks.status());

    const Json empty = Json::object();
    auto log_it = run->find("run_log");
    const Json& log = log_it != run->end() ? *log_it : empty;
    auto request_it = run->find("request");
    const Json& request = request_it != run->end() ? *request_it : empty;
    std::vector<std::vector<std::string>> rows = {
        {"run:", StringField(*run, "run_id", run_id_)},
        {"state:", StringField(*run, "state", "UNKNOWN")},
        {"type:", StringField(request, "workflow_type", "-") + " " +
                      StringField(request, "workflow_type_version")},
        {"start:", StringField(log, "start_time", "-")},
        {"end:", StringField(log, "end_time", "-")},
        {"tasks:", FormatTaskSummary(*tasks)},
    };
    auto tags = request.find("tags");
    if (tags != request.end() && tags->is_object() && !tags->empty()) {
      rows.push_back({"tags:", FormatTags(*tags)});
    }
    std::cout << FormatTable({}, rows);
    return kExitOk;
  }

 private:
  ClientOptions client_;
  std::string run_id_;
};

}  // namespace

std::unique_ptr<Command> AddStatusCommand(CLI::App& parent) {
  return std::make_unique<StatusCommand>(parent.add_subcommand("status", "Show a run's state"));
}

}  // namespace sluice::cli

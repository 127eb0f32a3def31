// `sluice audit RUN`: the run's audit trail, every state change of the run and its tasks
// (GET /api/v1/runs/{id}/audit), oldest first.
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "cli/wes_client.h"

namespace sluice::cli {
namespace {

class AuditCommand final : public Command {
 public:
  explicit AuditCommand(CLI::App* app) : Command(app) {
    AddClientOptions(*app, client_);
    app->add_option("RUN", run_id_, "Run id")->required();
  }

  int Run() override {
    HttpClient http(client_.server);
    WesClient wes(http);
    Result<std::vector<Json>> changes = wes.ListAudit(run_id_);
    if (!changes.ok()) return ReportError(changes.status());
    if (client_.json) {
      PrintJson(Json{{"changes", *changes}, {"next_page_token", ""}});
      return kExitOk;
    }
    std::vector<std::vector<std::string>> rows;
    for (const Json& change : *changes) {
      const std::string from = StringField(change, "from");
      const std::string to = StringField(change, "to");
      std::string what = StringField(change, "type");
      if (!to.empty()) what = from.empty() ? to : from + " -> " + to;
      if (StringField(change, "type") == "TaskCreated") what = "created";
      rows.push_back({StringField(change, "timestamp"), StringField(change, "task_id", "run"), what,
                      StringField(change, "reason")});
    }
    std::cout << FormatTable({"TIME", "OF", "CHANGE", "REASON"}, rows);
    return kExitOk;
  }

 private:
  ClientOptions client_;
  std::string run_id_;
};

}  // namespace

std::unique_ptr<Command> AddAuditCommand(CLI::App& parent) {
  return std::make_unique<AuditCommand>(
      parent.add_subcommand("audit", "Show every state change of a run and its tasks"));
}

}  // namespace sluice::cli

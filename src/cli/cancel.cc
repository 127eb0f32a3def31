// `sluice cancel RUN`: POST /runs/{id}/cancel.
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "cli/wes_client.h"

namespace sluice::cli {
namespace {

class CancelCommand final : public Command {
 public:
  explicit CancelCommand(CLI::App* app) : Command(app) {
    AddClientOptions(*app, client_);
    app->add_option("RUN", run_id_, "Run id")->required();
  }

  int Run() override {
    HttpClient http(client_.server);
    WesClient wes(http);
    Result<Json> response = wes.Cancel(run_id_);
    if (!response.ok()) return ReportError(response.status());
    if (client_.json) {
      PrintJson(*response);
    } else {
      std::cout << "canceling " << StringField(*response, "run_id", run_id_) << std::endl;
    }
    return kExitOk;
  }

 private:
  ClientOptions client_;
  std::string run_id_;
};

}  // namespace

std::unique_ptr<Command> AddCancelCommand(CLI::App& parent) {
  return std::make_unique<CancelCommand>(parent.add_subcommand("cancel", "Cancel a run"));
}

}  // namespace sluice::cli

#include "cli/command.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/exit_codes.h"

namespace sluice::cli {

void AddServerOption(CLI::App& app, ClientOptions& options) {
  options.server = "http://127.0.0.1:8080";
  app.add_option("--server", options.server, "Sluice server URL")
      ->envname("SLUICE_SERVER")
      ->capture_default_str();
}

void AddClientOptions(CLI::App& app, ClientOptions& options) {
  AddServerOption(app, options);
  app.add_flag("--json", options.json, "Print the server's JSON response");
}

int ReportError(const Status& status) {
  std::cerr << "error: " << status.message() << std::endl;
  return ExitCodeFor(status.code());
}

void PrintJson(const Json& json) { std::cout << json.dump(2) << std::endl; }

}  // namespace sluice::cli

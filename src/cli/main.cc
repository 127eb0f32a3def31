// The `sluice` binary: the task wrapper fast path, then the CLI11 subcommands.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.h"
#include "cli/asl_cmd.h"
#include "cli/command.h"
#include "cli/exit_codes.h"
#include "exec/local/task_wrapper.h"

int main(int argc, char** argv) {
  // Started for every task by the local executor: skip all parsing.
  if (argc > 1 && std::string_view(argv[1]) == "__task-wrapper") {
    return sluice::exec::local::TaskWrapperMain(argc, argv);
  }

  namespace cli = sluice::cli;
  CLI::App app("Sluice: run pipelines through a GA4GH WES 1.1 API", "sluice");
  app.require_subcommand(1);
  std::vector<std::unique_ptr<cli::Command>> commands;
  commands.push_back(cli::AddServeCommand(app));
  commands.push_back(cli::AddSubmitCommand(app));
  commands.push_back(cli::AddStatusCommand(app));
  commands.push_back(cli::AddListCommand(app));
  commands.push_back(cli::AddWatchCommand(app));
  commands.push_back(cli::AddLogsCommand(app));
  commands.push_back(cli::AddAuditCommand(app));
  commands.push_back(cli::AddCancelCommand(app));
  commands.push_back(cli::AddAslCommand(app));

  try {
    std::vector<std::string> args = cli::MoveClientOptionsAfterSubcommand({argv, argv + argc});
    // CLI11 takes the arguments without the program name, last one first.
    args.erase(args.begin());
    std::reverse(args.begin(), args.end());
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    // Prints help (exit 0) or the parse error; every parse error is a usage error.
    int rc = app.exit(e);
    return rc == 0 ? cli::kExitOk : cli::kExitUsage;
  }

  int rc = cli::kExitUsage;
  for (const auto& command : commands) {
    if (!command->app()->parsed()) continue;
    try {
      rc = command->Run();
    } catch (const std::exception& e) {
      // Commands return Status; this only catches what a library threw past us.
      rc = cli::ReportError(sluice::Internal(std::string("unexpected: ") + e.what()));
    }
    break;
  }
  return rc;
}

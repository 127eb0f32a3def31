// The subcommands of `sluice`. Each subcommand file registers its options on the CLI11 app
// and returns a Command that main() runs if that subcommand was given. Client subcommands
// share ClientOptions (--server, --json).
// Thread-safety: used from main()'s thread only.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

#include "common/json.h"
#include "common/status.h"

namespace CLI {
class App;
}

namespace sluice::cli {

struct ClientOptions {
  std::string server;  // --server, default $SLUICE_SERVER or http://127.0.0.1:8080
  bool json = false;   // --json: print the raw JSON response
};

// Adds --server to `app`.
void AddServerOption(CLI::App& app, ClientOptions& options);
// Adds --server and --json to `app`.
void AddClientOptions(CLI::App& app, ClientOptions& options);

class Command {
 public:
  explicit Command(CLI::App* app) : app_(app) {}
  virtual ~Command() = default;
  // The subcommand's parser, to ask whether it was the one given.
  CLI::App* app() const { return app_; }
  // Runs after a successful parse; returns the process exit code.
  virtual int Run() = 0;

 private:
  CLI::App* app_;
};

std::unique_ptr<Command> AddSubmitCommand(CLI::App& parent);
std::unique_ptr<Command> AddStatusCommand(CLI::App& parent);
std::unique_ptr<Command> AddListCommand(CLI::App& parent);
std::unique_ptr<Command> AddCancelCommand(CLI::App& parent);
std::unique_ptr<Command> AddLogsCommand(CLI::App& parent);
std::unique_ptr<Command> AddAuditCommand(CLI::App& parent);
std::unique_ptr<Command> AddWatchCommand(CLI::App& parent);
// In the `sluice` binary only: it links the whole server.
std::unique_ptr<Command> AddServeCommand(CLI::App& parent);

// Prints "error: <message>" to stderr and returns ExitCodeFor(status.code()).
int ReportError(const Status& status);

// Pretty-prints `json` and a newline on stdout.
void PrintJson(const Json& json);

}  // namespace sluice::cli

// `sluice serve`: builds the ServeConfig from defaults, YAML, SLUICE_* variables and flags,
// validates it and runs the server.
#include <CLI/CLI.hpp>
#include <iostream>
#include <map>
#include <string_view>
#include <vector>

#include "cli/command.h"
#include "cli/exit_codes.h"
#include "server/config.h"
#include "server/serve.h"

extern char** environ;

namespace sluice::cli {
namespace {

// Every SLUICE_* variable of this process.
std::map<std::string, std::string> SluiceEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (!entry.starts_with("SLUICE_")) continue;
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return env;
}

// A flag of `sluice serve`: the config key it sets and the text given, if any.
struct ConfigFlag {
  std::string key;
  std::string text;
  CLI::Option* option = nullptr;
};

class ServeCommand final : public Command {
 public:
  explicit ServeCommand(CLI::App* app) : Command(app) {
    app->add_option("--config", config_path_, "YAML configuration file")->envname("SLUICE_CONFIG");
    // Values stay text here; ApplyFlagConfig parses them with the same rules and messages
    // as the file and the environment.
    const std::pair<const char*, const char*> kFlags[] = {
        {"host", "Address to listen on (default 127.0.0.1)"},
        {"port", "Port to listen on, 0 for any free port (default 8080)"},
        {"data_dir", "Directory for the database, attachments and task logs (default ./var)"},
        {"store", "\"sqlite\" (in the data dir) or a postgresql:// URL"},
        {"max_concurrent_tasks", "Tasks running at once (default 16)"},
        {"max_active_runs", "Runs driven at once; the rest wait QUEUED (default 256)"},
        {"scheduler_workers", "Threads driving runs (default 2)"},
        {"io_threads", "HTTP I/O threads (default 2)"},
        {"max_body_bytes", "Largest request body accepted (default 64 MiB)"},
        {"cancel_grace_seconds", "SIGTERM-to-SIGKILL grace when canceling tasks (default 10)"},
        {"log_level", "trace, debug, info, warn, error, critical or off (default info)"},
        {"replica_id", "This replica's id (default: kept in the data dir)"},
        {"asl_bindings_file", "JSON file binding ASL task resources to shell commands"},
        {"asl_max_concurrency", "Inline Map iterations at once when MaxConcurrency is 0"},
        {"reconcile_interval_seconds", "How often to poll the executor about quiet tasks (30)"},
        {"task_stale_seconds", "A task with no news for this long is polled (default 60)"},
        {"outbox_retention_seconds", "How long live events stay resumable (default 86400)"},
        {"retention_days", "Delete ended runs this many days old (default 0: keep)"},
        {"retention_sweep_seconds", "How often the retention sweeper runs (default 3600)"},
        {"lease_seconds", "A dead replica's runs are taken over this long after it (default 10)"},
        {"archive_after_seconds", "Compact ended runs this long after they end (600; 0: never)"},
        {"executor", "Where tasks run: local or slurm (default local)"},
        {"slurm_partition", "Slurm partition for task jobs (default: the cluster's)"},
        {"slurm_account", "Slurm account for task jobs"},
        {"slurm_sbatch_options", "Extra sbatch options, separated by spaces"},
        {"slurm_poll_interval_ms", "How often Slurm is asked about all jobs (default 1000)"},
        {"price_per_cpu_hour", "Price of a CPU-hour for estimated costs in stats"},
        {"price_per_gb_hour", "Price of a GB-hour of memory for estimated costs in stats"},
    };
    flags_.reserve(std::size(kFlags));
    for (const auto& [key, help] : kFlags) {
      flags_.push_back(ConfigFlag{key, "", nullptr});
      std::string name = "--" + std::string(key);
      for (char& ch : name) ch = ch == '_' ? '-' : ch;
      flags_.back().option = app->add_option(name, flags_.back().text, help);
    }
  }

  int Run() override {
    server::ServeConfig config;
    if (!config_path_.empty()) {
      Status st = server::ApplyYamlConfig(config_path_, config);
      if (!st.ok()) return ReportError(st);
    }
    Status st = server::ApplyEnvConfig(SluiceEnvironment(), config);
    if (!st.ok()) return ReportError(st);
    std::map<std::string, std::string> given;
    for (const ConfigFlag& flag : flags_) {
      if (flag.option->count() > 0) given[flag.key] = flag.text;
    }
    st = server::ApplyFlagConfig(given, config);
    if (!st.ok()) return ReportError(st);
    st = server::ValidateConfig(config);
    if (!st.ok()) return ReportError(st);
    return server::Serve(config);
  }

 private:
  std::string config_path_;
  std::vector<ConfigFlag> flags_;  // reserved up front: CLI11 keeps pointers to `text`
};

}  // namespace

std::unique_ptr<Command> AddServeCommand(CLI::App& parent) {
  return std::make_unique<ServeCommand>(
      parent.add_subcommand("serve", "Run the Sluice server (WES API, scheduler, executor)"));
}

}  // namespace sluice::cli

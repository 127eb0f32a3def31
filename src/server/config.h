// ServeConfig: every setting of `sluice serve`, from (lowest to highest precedence) built-in
// defaults, a YAML file (--config), SLUICE_* environment variables, and command-line flags.
// Thread-safety: a plain value.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace sluice::server {

struct ServeConfig {
  std::string host = "127.0.0.1";        // SLUICE_HOST, host:
  int port = 8080;                       // SLUICE_PORT, port:
  std::string data_dir = "./var";        // SLUICE_DATA_DIR, data_dir:
  std::string store = "sqlite";          // SLUICE_STORE, store: ("sqlite" = <data_dir>/sluice.db)
  int max_concurrent_tasks = 16;         // SLUICE_MAX_CONCURRENT_TASKS, max_concurrent_tasks:
  // Runs driven at once (the rest wait QUEUED), and the threads that drive them: each run's
  // next step (an engine step, its task submissions, its state change) is one worker's job.
  int max_active_runs = 256;             // SLUICE_MAX_ACTIVE_RUNS, max_active_runs:
  int scheduler_workers = 2;             // SLUICE_SCHEDULER_WORKERS, scheduler_workers:
  int io_threads = 2;                    // SLUICE_IO_THREADS, io_threads:
  int64_t max_body_bytes = 64 << 20;     // SLUICE_MAX_BODY_BYTES, max_body_bytes:
  double cancel_grace_seconds = 10;      // SLUICE_CANCEL_GRACE_SECONDS, cancel_grace_seconds:
  std::string log_level = "info";        // SLUICE_LOG_LEVEL, log_level: (trace..off)
  std::string replica_id;                // SLUICE_REPLICA_ID; default: stored in data dir
  // ASL task resources bound to shell commands: a JSON file {"<resource>": "<command>"},
  // the format of `sluice asl run --bindings`.
  std::string asl_bindings_file;         // SLUICE_ASL_BINDINGS_FILE, asl_bindings_file:
  int asl_max_concurrency = 40;          // SLUICE_ASL_MAX_CONCURRENCY: inline Map default

  // State sync: how often the reconciler asks the executor about tasks with no news for
  // task_stale_seconds (0: no reconciler).
  int64_t reconcile_interval_seconds = 30;  // SLUICE_RECONCILE_INTERVAL_SECONDS
  int64_t task_stale_seconds = 60;          // SLUICE_TASK_STALE_SECONDS
  // Outbox entries (the SSE feed) older than this are pruned; a client resuming from an
  // older event id gets 410.
  int64_t outbox_retention_seconds = 86400;  // SLUICE_OUTBOX_RETENTION_SECONDS

  // Retention: ended runs older than their age (days since they ended) are deleted with
  // their files. The most specific rule wins: a `key:value` tag rule, then a workflow type
  // rule, then the default. 0 keeps runs forever.
  double retention_days = 0;             // SLUICE_RETENTION_DAYS, retention_days:
  // YAML only: mappings {"project:tmp": 7} and {"ASL": 30} (days).
  std::map<std::string, double> retention_by_tag;            // retention_by_tag:
  std::map<std::string, double> retention_by_workflow_type;  // retention_by_workflow_type:
  int64_t retention_sweep_seconds = 3600;  // SLUICE_RETENTION_SWEEP_SECONDS: sweep period
  // Runs ended this long ago have their tasks and history moved to compact storage (about
  // 1 KB for 10 tasks; read-only from then on). 0: never.
  int64_t archive_after_seconds = 600;     // SLUICE_ARCHIVE_AFTER_SECONDS
  // How long a replica's claim on a run lasts without renewal (renewed every second): when a
  // replica dies, another takes its runs over this long after its last renewal.
  int64_t lease_seconds = 10;              // SLUICE_LEASE_SECONDS, lease_seconds:

  // Where tasks run: "local" (processes on this machine) or "slurm" (batch jobs; the Slurm
  // client commands must work for the server's user, SLURM_CONF from its environment).
  std::string executor = "local";              // SLUICE_EXECUTOR, executor:
  std::string slurm_partition;                 // SLUICE_SLURM_PARTITION: sbatch --partition
  std::string slurm_account;                   // SLUICE_SLURM_ACCOUNT: sbatch --account
  // Extra sbatch options, verbatim: a YAML list, or one string split at whitespace
  // (SLUICE_SLURM_SBATCH_OPTIONS, --slurm-sbatch-options).
  std::vector<std::string> slurm_sbatch_options;  // slurm_sbatch_options:
  // One squeue (and, for jobs it no longer lists, one sacct) per interval for all jobs.
  int64_t slurm_poll_interval_ms = 1000;       // SLUICE_SLURM_POLL_INTERVAL_MS

  // Prices for the estimated cost in /api/v1/stats (0: no cost).
  double price_per_cpu_hour = 0;  // SLUICE_PRICE_PER_CPU_HOUR, price_per_cpu_hour:
  double price_per_gb_hour = 0;   // SLUICE_PRICE_PER_GB_HOUR, price_per_gb_hour:
};

// Applies a YAML document (a mapping with the keys above) over `config`.
// kInvalidArgument naming the file, key and problem ("sluice.yaml: port: must be an integer
// from 0 to 65535"); unknown keys are errors too.
Status ApplyYamlConfig(const std::string& path, ServeConfig& config);
// Applies SLUICE_* variables from `env` over `config` (same validation, naming the variable).
Status ApplyEnvConfig(const std::map<std::string, std::string>& env, ServeConfig& config);
// Applies command-line flag values over `config`. `flags` maps a key above ("max_body_bytes")
// to the flag's text; errors name the flag ("--max-body-bytes: must be ..."). Unknown keys
// are kInvalidArgument (our bug: the CLI registered a flag with no config key).
Status ApplyFlagConfig(const std::map<std::string, std::string>& flags, ServeConfig& config);
// Checks every field's range and the cross-field rules after all sources are applied.
// kInvalidArgument naming the key.
Status ValidateConfig(const ServeConfig& config);

}  // namespace sluice::server

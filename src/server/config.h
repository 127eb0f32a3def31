// ServeConfig: every setting of `sluice serve`, from (lowest to highest precedence) built-in
// defaults, a YAML file (--config), SLUICE_* environment variables, and command-line flags.
// Thread-safety: a plain value.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/status.h"

namespace sluice::server {

struct ServeConfig {
  std::string host = "127.0.0.1";        // SLUICE_HOST, host:
  int port = 8080;                       // SLUICE_PORT, port:
  std::string data_dir = "./var";        // SLUICE_DATA_DIR, data_dir:
  std::string store = "sqlite";          // SLUICE_STORE, store: ("sqlite" = <data_dir>/sluice.db)
  int max_concurrent_tasks = 16;         // SLUICE_MAX_CONCURRENT_TASKS, max_concurrent_tasks:
  int io_threads = 2;                    // SLUICE_IO_THREADS, io_threads:
  int64_t max_body_bytes = 64 << 20;     // SLUICE_MAX_BODY_BYTES, max_body_bytes:
  double cancel_grace_seconds = 10;      // SLUICE_CANCEL_GRACE_SECONDS, cancel_grace_seconds:
  std::string log_level = "info";        // SLUICE_LOG_LEVEL, log_level: (trace..off)
  std::string replica_id;                // SLUICE_REPLICA_ID; default: stored in data dir
  // ASL task resources bound to shell commands: a JSON file {"<resource>": "<command>"},
  // the format of `sluice asl run --bindings`.
  std::string asl_bindings_file;         // SLUICE_ASL_BINDINGS_FILE, asl_bindings_file:
  int asl_max_concurrency = 40;          // SLUICE_ASL_MAX_CONCURRENCY: inline Map default
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

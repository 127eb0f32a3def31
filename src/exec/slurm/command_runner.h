// CommandRunner: runs a Slurm client command (sbatch, squeue, sacct, scancel) to completion
// and hands back what it printed. An interface so that the Slurm executor's logic can be
// driven by recorded output in tests; SubprocessRunner is the real one (posix_spawn, no
// shell, no fork: the server is multithreaded).
//
// Thread-safety: implementations are thread-safe; SubprocessRunner runs concurrent commands
// independently.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace sluice::exec::slurm {

struct CommandResult {
  int exit_code = 0;  // 128+S when killed by signal S
  std::string out;
  std::string err;
};

class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  // Runs argv (argv[0] looked up on PATH) with the calling process's environment plus
  // `env` (overriding), from `cwd` ("" for the current directory), stdin /dev/null.
  // A non-zero exit is a CommandResult, not an error. kIo/kResourceExhausted if the
  // command cannot be started; kUnavailable if it ran longer than `timeout` (it is killed).
  virtual Result<CommandResult> Run(const std::vector<std::string>& argv,
                                    const std::map<std::string, std::string>& env,
                                    Micros timeout) = 0;
};

class SubprocessRunner final : public CommandRunner {
 public:
  Result<CommandResult> Run(const std::vector<std::string>& argv,
                            const std::map<std::string, std::string>& env, Micros timeout) override;
};

}  // namespace sluice::exec::slurm

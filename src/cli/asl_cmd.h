// `sluice asl validate` and `sluice asl run`: Amazon States Language state machines checked
// and run in this process, without a server, for people who test their state machines.
// The run prints exactly one JSON line on stdout:
//   {"status": "SUCCEEDED", "output": <output>}
//   {"status": "FAILED"|"TIMED_OUT"|"ABORTED", "error": "<error>", "cause": "<cause>"}
// and exits 0 (SUCCEEDED), 1 (any other status) or 2 (invalid definition or usage; nothing on
// stdout, the reasons on stderr). See the --help texts in asl_cmd.cc for the options.
// Thread-safety: used from main()'s thread only.
#pragma once

#include <memory>

#include "cli/command.h"

namespace sluice::cli {

std::unique_ptr<Command> AddAslCommand(CLI::App& parent);

}  // namespace sluice::cli

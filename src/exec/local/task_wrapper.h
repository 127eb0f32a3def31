// The task wrapper: `sluice __task-wrapper [--lock-fd N] DIR -- ARGV...`, a tiny process the
// local executor starts for every task. It holds an exclusive flock on DIR/lock for its whole
// life (inherited as fd N from the executor, which took it, or taken itself), refuses to run
// a task whose DIR/pid exists (so a task never starts twice), writes DIR/pid, and starts ARGV
// with stdout/stderr going to DIR/stdout and DIR/stderr, waits for it and writes its exit
// status atomically to DIR/exit_code. Because the wrapper, not the server, waits for the
// task, a task that finishes while the server is down still has its real exit code recorded
// for the server to read when it comes back.
#pragma once

namespace sluice::exec::local {

// Entry point used by the `sluice` binary's main() for argv[1] == "__task-wrapper".
int TaskWrapperMain(int argc, char** argv);

}  // namespace sluice::exec::local

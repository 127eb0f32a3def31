// `sluice-task-wrapper`: the task wrapper as a binary of its own. The server starts one per
// task; it links only what the wrapper needs (no libcurl, no Boost, no SQLite), so starting
// it costs the dynamic loader a few libraries instead of forty. It takes the same arguments
// as `sluice __task-wrapper`, which still works and is the fallback when this binary is not
// installed next to `sluice`.
#include "exec/local/task_wrapper.h"

int main(int argc, char** argv) { return sluice::exec::local::TaskWrapperMain(argc, argv); }

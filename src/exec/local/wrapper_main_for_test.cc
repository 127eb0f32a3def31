// A stand-in for the `sluice` binary in tests: it only knows `__task-wrapper`, so the local
// executor's tests can run real task wrappers without building the server.
#include "exec/local/task_wrapper.h"

int main(int argc, char** argv) { return sluice::exec::local::TaskWrapperMain(argc, argv); }

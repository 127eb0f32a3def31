// The composition root of `sluice serve`: builds the store, executor, drivers, services and
// HTTP server from a ServeConfig, wires them together, serves until SIGINT/SIGTERM, then
// shuts down gracefully (stop accepting, finish in-flight requests, leave tasks running to
// be re-attached on the next start).
#pragma once

#include "server/config.h"

namespace sluice::server {

// Runs the server in the foreground. Prints "listening on http://HOST:PORT" as the first
// line on stdout once the port is bound. Returns the process exit code.
int Serve(const ServeConfig& config);

}  // namespace sluice::server

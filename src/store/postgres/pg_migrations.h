// Schema migrations of the PostgreSQL run store: numbered .sql files under migrations/,
// embedded into the binary at build time (embed_migrations.cmake), applied in order when a
// store opens and recorded in the schema_migrations table of the store's schema.
//
// Thread-safety: ApplyMigrations uses the given connection only. Several processes may call
// it at once on one database: a session advisory lock makes them apply each migration once.
#pragma once

#include <span>
#include <string_view>

#include "common/status.h"
#include "store/postgres/pg_connection.h"

namespace sluice::store::postgres {

struct Migration {
  int version;            // from the file name: 0001_init.sql -> 1
  std::string_view name;  // the file name
  std::string_view sql;   // the file's text
};

// The migrations compiled into this binary, in version order 1, 2, 3, ... (generated).
std::span<const Migration> EmbeddedMigrations();

// Creates the connection's schema (search_path) if needed and applies every migration whose
// version is not yet recorded, each in its own transaction with its schema_migrations row.
// kFailedPrecondition if the database holds a version newer than this binary's.
Status ApplyMigrations(PgConn& db, std::span<const Migration> migrations);

}  // namespace sluice::store::postgres

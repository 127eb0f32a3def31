// Schema migrations of the SQLite run store: numbered .sql files under migrations/, embedded
// into the binary at build time (embed_migrations.cmake), applied in order on Open and
// recorded in the schema_migrations table.
//
// Thread-safety: ApplyMigrations uses the given connection only; call it before the
// connection is shared.
#pragma once

#include <span>
#include <string_view>

#include "common/status.h"
#include "store/sqlite/connection.h"

namespace sluice::store::sqlite {

struct Migration {
  int version;            // from the file name: 0001_init.sql -> 1
  std::string_view name;  // the file name
  std::string_view sql;   // the file's text
};

// The migrations compiled into this binary, in version order 1, 2, 3, ... (generated).
std::span<const Migration> EmbeddedMigrations();

// Applies every migration in `migrations` whose version is not yet recorded, each in its own
// transaction together with its schema_migrations row. Migrations already applied are
// skipped, so calling it on every open is safe. kFailedPrecondition if the database holds a
// version newer than the newest in `migrations` (an older binary on a newer database).
Status ApplyMigrations(Connection& db, std::span<const Migration> migrations);

}  // namespace sluice::store::sqlite

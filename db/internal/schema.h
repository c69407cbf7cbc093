// File: db/internal/schema.h
// -----------------------------------------------------------------------------
// The results database's schema as an ordered list of migrations, and the checks that decide
// whether a file may be opened. docs/database.md describes every table and every migration; a
// change here changes that page.
#ifndef ISTAR_DB_INTERNAL_SCHEMA_H_
#define ISTAR_DB_INTERNAL_SCHEMA_H_

#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "db/internal/sqlite.h"

namespace istar::db::internal {

// PRAGMA application_id of every istar results database: "ISTR" in ASCII, big-endian.
inline constexpr int64_t kApplicationId = 0x49535452;

// One step of the schema: the SQL that takes a database from version `version - 1` to `version`.
// Released steps never change; a new schema is a new step at the end.
struct Migration {
  int version;
  const char* summary;
  const char* sql;
  // True for a step that drops and re-creates a table that others refer to: it runs with foreign
  // keys off and checks them before committing (Note [Regularizer names are the catalogue's]).
  bool rebuilds_tables = false;
};

// Every step, in order; the last one's version is the schema this binary writes.
std::span<const Migration> Migrations();
int LatestSchemaVersion();

// Checks that the connection's file is a database this binary may open read-write and brings its
// schema up to `target_version`, each step in its own IMMEDIATE transaction that re-reads the
// version first (so concurrent openers apply each step once). FailedPrecondition if the file is
// another application's SQLite database or its version is newer than this binary knows.
[[nodiscard]] absl::Status Migrate(Database& db, int target_version);

// Checks that a read-only connection's file is an istar database at exactly the latest version:
// FailedPrecondition (saying what to do) if it is another kind of file, older or newer.
[[nodiscard]] absl::Status CheckReadable(Database& db);

}  // namespace istar::db::internal

#endif  // ISTAR_DB_INTERNAL_SCHEMA_H_

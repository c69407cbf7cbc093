// Helpers shared by the db tests: a scratch directory, hand-built trials and sweeps (so the tests
// do not depend on the sweeps module's parser), and raw SQLite access for checks the Store API
// deliberately does not offer (row counts, the schema version, a competing lock).
#ifndef ISTAR_TESTS_DB_TEST_UTIL_H_
#define ISTAR_TESTS_DB_TEST_UTIL_H_

#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "db/store.h"
#include "gtest/gtest.h"
#include "sweeps/sweep.h"
#include "tests/testing/scratch_dir.h"

namespace istar::db::testing {

using ::istar::testing::ScratchDir;

// A trial id that is a valid SHA-256 hex digest: `n` in hex, zero-padded to 64 digits.
inline std::string HexId(int n) {
  char buffer[65];
  std::snprintf(buffer, sizeof(buffer), "%064x", n);
  return buffer;
}

struct TrialArgs {
  std::string model = "bert";
  std::string task = "sst2";
  std::string regularizer = "baseline";
  double lambda = 0.0;
  double zeta = 0.0;
  double learning_rate = 1e-5;
  int64_t batch_size = 32;
  int64_t epochs = 4;
  int64_t seed = 0;
  // More keys of the canonical configuration (a training setting, vicreg's gamma, ...).
  nlohmann::json settings = nlohmann::json::object();
};

// Trial number `n` (its id is HexId(n)) with the given settings. Its canonical configuration
// holds the arguments (as the real one does, under the same keys) and args.settings.
inline sweeps::TrialSpec MakeTrial(int n, const TrialArgs& args = {}) {
  sweeps::TrialSpec trial;
  trial.id = HexId(n);
  nlohmann::json configuration = args.settings;
  configuration.update({{"model", args.model},
                        {"task", args.task},
                        {"regularizer", args.regularizer},
                        {"lambda", args.lambda},
                        {"zeta", args.zeta},
                        {"learning_rate", args.learning_rate},
                        {"batch_size", args.batch_size},
                        {"epochs", args.epochs},
                        {"seed", args.seed}});
  trial.canonical_json = configuration.dump();
  trial.model = args.model;
  trial.task = args.task;
  trial.regularizer = args.regularizer;
  trial.lambda = args.lambda;
  trial.zeta = args.zeta;
  trial.learning_rate = args.learning_rate;
  trial.batch_size = args.batch_size;
  trial.epochs = args.epochs;
  trial.seed = args.seed;
  return trial;
}

inline sweeps::SweepSpec MakeSweep(const std::string& name, std::vector<sweeps::TrialSpec> trials) {
  sweeps::SweepSpec sweep;
  sweep.name = name;
  sweep.source = name + ".yaml";
  sweep.yaml = "name: " + name + "\n";
  sweep.trials = std::move(trials);
  return sweep;
}

inline std::unique_ptr<Store> OpenStore(const std::string& path, const StoreOptions& options = {}) {
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path, options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

inline std::unique_ptr<Store> OpenReadOnly(const std::string& path) {
  return OpenStore(path, {.mode = OpenMode::kReadOnly});
}

// A raw SQLite connection, for what the Store API does not expose.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK) << path;
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  // Runs `sql`; returns SQLite's message, or "" on success.
  std::string Exec(const std::string& sql) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
    std::string message = rc == SQLITE_OK ? "" : (error != nullptr ? error : "error");
    sqlite3_free(error);
    return message;
  }

  // The first column of the first row of `sql` as an integer (-1 if there is no row).
  int64_t Int(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db_) << ": " << sql;
    int64_t value = -1;
    if (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return value;
  }

  // The first column of every row of `sql`, as text (NULL as "").
  std::vector<std::string> Column(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db_) << ": " << sql;
    std::vector<std::string> values;
    while (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      values.push_back(text != nullptr ? reinterpret_cast<const char*>(text) : "");
    }
    sqlite3_finalize(stmt);
    return values;
  }

  // SQLite's plan for `sql` (parameters unbound): the detail of each EXPLAIN QUERY PLAN row, one
  // a line, e.g. "SEARCH t USING INDEX trials_queue (status=? AND ranks=?)".
  std::string QueryPlan(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    const std::string explain = "EXPLAIN QUERY PLAN " + sql;
    EXPECT_EQ(sqlite3_prepare_v2(db_, explain.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db_) << ": " << sql;
    std::string plan;
    while (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
      plan += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));
      plan += "\n";
    }
    sqlite3_finalize(stmt);
    return plan;
  }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace istar::db::testing

#endif  // ISTAR_TESTS_DB_TEST_UTIL_H_

// Opening a store: schema creation, migrations, version checks, read-only mode, and the SQLite
// errors of opening and locking.
#include "db/store.h"

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sweeps/sweep.h"
#include "tests/db/test_util.h"

namespace istar::db {
namespace {

using ::istar::db::testing::MakeSweep;
using ::istar::db::testing::MakeTrial;
using ::istar::db::testing::OpenReadOnly;
using ::istar::db::testing::OpenStore;
using ::istar::db::testing::RawDb;
using ::istar::db::testing::ScratchDir;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr int64_t kApplicationId = 0x49535452;  // "ISTR"

TEST(StoreOpen, CreatesTheSchemaInANewFile) {
  ScratchDir dir;
  const std::string path = dir.Path("results.db");
  ASSERT_NE(OpenStore(path), nullptr);
  ASSERT_TRUE(std::filesystem::exists(path));

  RawDb raw(path);
  EXPECT_EQ(raw.Int("PRAGMA user_version"), CurrentSchemaVersion());
  EXPECT_EQ(CurrentSchemaVersion(), 5);
  EXPECT_EQ(raw.Int("PRAGMA application_id"), kApplicationId);
  EXPECT_EQ(raw.Int("SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);
  for (const char* table : {"sweeps", "trials", "sweep_trials", "attempts", "workers", "metrics",
                            "isotropy", "final_results"}) {
    EXPECT_EQ(raw.Int(std::string("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                  "name = '") +
                      table + "'"),
              1)
        << table;
  }
  EXPECT_EQ(raw.Int("SELECT count(*) FROM pragma_table_info('trials') WHERE name = 'ranks'"), 1);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM pragma_table_info('trials') WHERE name = 'queue_order'"),
            1);
  for (const char* index : {"trials_queue", "trials_by_queue_order"}) {
    EXPECT_EQ(raw.Int(std::string("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                                  "name = '") +
                      index + "'"),
              1)
        << index;
  }
}

TEST(StoreOpen, ReopeningChangesNothing) {
  ScratchDir dir;
  const std::string path = dir.Path("results.db");
  ASSERT_NE(OpenStore(path), nullptr);
  ASSERT_NE(OpenStore(path), nullptr);
  ASSERT_NE(OpenReadOnly(path), nullptr);
  RawDb raw(path);
  EXPECT_EQ(raw.Int("PRAGMA user_version"), CurrentSchemaVersion());
}

TEST(StoreOpen, MigratesAVersion1FileAndKeepsItsData) {
  ScratchDir dir;
  const std::string path = dir.Path("v1.db");
  ASSERT_TRUE(CreateStoreAtVersion(path, 1).ok());
  {
    // Version 1 has no trials.ranks and none of version 2's indices; fill it as a v1 binary would.
    RawDb raw(path);
    ASSERT_EQ(raw.Int("PRAGMA user_version"), 1);
    ASSERT_EQ(raw.Int("SELECT count(*) FROM pragma_table_info('trials') WHERE name = 'ranks'"), 0);
    ASSERT_EQ(raw.Exec("INSERT INTO sweeps VALUES ('s1', 'old', 'old.yaml', 'name: old', 1, 5);"
                       "INSERT INTO trials (id, canonical_json, model, task, regularizer, lambda,"
                       " zeta, batch_size, epochs, seed, learning_rate, status, created_at) VALUES"
                       " ('" +
                       testing::HexId(7) +
                       "', '{}', 'bert', 'sst2', 'istar', -5, 0.2, 32,"
                       " 4, 3, 1e-5, 'done', 5);"
                       "INSERT INTO sweep_trials VALUES ('s1', '" +
                       testing::HexId(7) +
                       "', 0);"
                       "INSERT INTO metrics VALUES ('" +
                       testing::HexId(7) + "', 10, 0.5, 'train', 'loss', 0.25);"),
              "");
  }
  ASSERT_NE(OpenStore(path), nullptr);

  RawDb raw(path);
  EXPECT_EQ(raw.Int("PRAGMA user_version"), CurrentSchemaVersion());  // through 2 to the latest
  EXPECT_EQ(raw.Int("SELECT count(*) FROM sqlite_master WHERE name = 'trials_by_status'"), 1);
  EXPECT_EQ(raw.Int("SELECT queue_order FROM trials"), 1);  // version 3's back-fill
  std::unique_ptr<Store> store = OpenReadOnly(path);
  ASSERT_NE(store, nullptr);
  absl::StatusOr<TrialRecord> trial = store->GetTrial(testing::HexId(7));
  ASSERT_TRUE(trial.ok()) << trial.status();
  EXPECT_EQ(trial->status, TrialStatus::kDone);
  EXPECT_EQ(trial->regularizer, "istar");
  EXPECT_EQ(trial->lambda, -5.0);
  EXPECT_EQ(trial->seed, 3);
  EXPECT_EQ(trial->ranks, 1);  // the new column's default
  absl::StatusOr<Trajectories> trajectories = store->ExportTrajectories(testing::HexId(7));
  ASSERT_TRUE(trajectories.ok()) << trajectories.status();
  ASSERT_EQ(trajectories->metrics.size(), 1u);
  EXPECT_EQ(trajectories->metrics[0].value, 0.25);
  absl::StatusOr<std::vector<TrialRecord>> in_sweep = store->ListTrials({.sweeps = {"old"}});
  ASSERT_TRUE(in_sweep.ok()) << in_sweep.status();
  EXPECT_EQ(in_sweep->size(), 1u);
}

TEST(StoreOpen, MigratesAVersion2FileKeepingItsLeaseOrder) {
  ScratchDir dir;
  const std::string path = dir.Path("v2.db");
  ASSERT_TRUE(CreateStoreAtVersion(path, 2).ok());
  // Version 2 has no trials.queue_order: fill it as a v2 binary would, with two sweeps whose
  // expansion order is not the id order, a trial shared by both (its first position counts), a
  // trial of another group size, and finished trials that take no place in the queue.
  std::vector<std::string> old_order;
  {
    RawDb raw(path);
    ASSERT_EQ(raw.Int("PRAGMA user_version"), 2);
    ASSERT_EQ(
        raw.Int("SELECT count(*) FROM pragma_table_info('trials') WHERE name = 'queue_order'"), 0);
    std::string sql =
        // Sweep files that read: the first lease reads the trial's micro-batches from them.
        "INSERT INTO sweeps VALUES ('a', 'first', 'a.yaml', 'name: first\nmodels: {m: /m}\n"
        "tasks: {sst2: /t}\ngrid: {regularizers: [baseline]}\n', 4, 100);"
        "INSERT INTO sweeps VALUES ('b', 'second', 'b.yaml', 'name: second\nmodels: {m: /m}\n"
        "tasks: {sst2: /t}\ngrid: {regularizers: [baseline]}\n', 4, 200);";
    // (trial, created_at, ranks, status), then (sweep, trial, position).
    const struct {
      int n;
      int created_at;
      int ranks;
      const char* status;
    } trials[] = {{3, 100, 1, "pending"}, {1, 100, 1, "pending"}, {2, 100, 2, "pending"},
                  {4, 100, 1, "done"},    {9, 200, 1, "pending"}, {6, 200, 1, "pending"},
                  {8, 200, 1, "failed"}};
    for (const auto& t : trials) {
      sql +=
          "INSERT INTO trials (id, canonical_json, model, task, regularizer, lambda, zeta,"
          " batch_size, epochs, seed, learning_rate, status, ranks, created_at) VALUES ('" +
          testing::HexId(t.n) + "', '{}', 'bert', 'sst2', 'baseline', 0, 0, 32, 4, " +
          std::to_string(t.n) + ", 1e-5, '" + t.status + "', " + std::to_string(t.ranks) + ", " +
          std::to_string(t.created_at) + ");";
    }
    const struct {
      const char* sweep;
      int n;
      int position;
    } links[] = {{"a", 4, 0}, {"a", 3, 1}, {"a", 2, 2}, {"a", 1, 3},
                 {"b", 9, 3}, {"b", 6, 0}, {"b", 8, 1}, {"b", 1, 2}};
    for (const auto& l : links) {
      sql += std::string("INSERT INTO sweep_trials VALUES ('") + l.sweep + "', '" +
             testing::HexId(l.n) + "', " + std::to_string(l.position) + ");";
    }
    ASSERT_EQ(raw.Exec(sql), "");
    // The order version 2's NextPending leased in, for groups of one rank.
    old_order = raw.Column(
        "SELECT t.id FROM trials AS t WHERE t.status = 'pending' AND t.ranks = 1 "
        "ORDER BY t.created_at, "
        "(SELECT min(position) FROM sweep_trials AS st WHERE st.trial_id = t.id), t.id");
    ASSERT_EQ(old_order, (std::vector<std::string>{testing::HexId(3), testing::HexId(1),
                                                   testing::HexId(6), testing::HexId(9)}));
  }

  std::unique_ptr<Store> store = OpenStore(path);
  ASSERT_NE(store, nullptr);
  {
    RawDb raw(path);
    EXPECT_EQ(raw.Int("PRAGMA user_version"), CurrentSchemaVersion());
    // Every trial, finished or not, numbered 1..7 once in the old order: trials 2 and 1 share
    // created_at and first position (2), so the id decides.
    EXPECT_EQ(raw.Column("SELECT id FROM trials ORDER BY queue_order"),
              (std::vector<std::string>{testing::HexId(4), testing::HexId(3), testing::HexId(1),
                                        testing::HexId(2), testing::HexId(6), testing::HexId(8),
                                        testing::HexId(9)}));
    EXPECT_EQ(raw.Int("SELECT min(queue_order) = 1 AND max(queue_order) = 7 FROM trials"), 1);
  }
  // A sweep submitted after the upgrade queues behind the migrated trials.
  ASSERT_TRUE(store->SubmitSweep(MakeSweep("third", {MakeTrial(5)})).ok());
  ASSERT_TRUE(store->RegisterWorker("w", "host").ok());
  const LeasePolicy policy{.ttl = std::chrono::seconds(30), .max_attempts = 3};
  std::vector<std::string> new_order;
  while (true) {
    absl::StatusOr<std::optional<Lease>> lease = store->LeaseTrial("w", 1, policy);
    ASSERT_TRUE(lease.ok()) << lease.status();
    if (!lease->has_value()) break;
    new_order.push_back((*lease)->trial_id);
  }
  old_order.push_back(testing::HexId(5));
  EXPECT_EQ(new_order, old_order);
  absl::StatusOr<std::optional<Lease>> pair = store->LeaseTrial("w", 2, policy);
  ASSERT_TRUE(pair.ok() && pair->has_value()) << pair.status();
  EXPECT_EQ((*pair)->trial_id, testing::HexId(2));
}

// Version 4 rebuilds the trials table without the CHECK that listed three regularizers (Note
// [Regularizer names are the catalogue's], schema.cc). Everything that refers to trials must
// survive the rebuild, and still be enforced.
TEST(StoreOpen, MigratesAVersion3FileToAcceptEveryCatalogueRegularizer) {
  ScratchDir dir;
  const std::string path = dir.Path("v3.db");
  ASSERT_TRUE(CreateStoreAtVersion(path, 3).ok());
  {
    // Rows as a version 3 binary writes them: a sweep of three trials, the first leased by a
    // worker (its attempt), with a metric row.
    RawDb raw(path);
    ASSERT_EQ(raw.Int("PRAGMA user_version"), 3);
    std::string sql =
        "INSERT INTO sweeps VALUES ('s', 'old', 'old.yaml', 'name: old', 3, 100);"
        "INSERT INTO workers (id, host, registered_at, last_seen_at) VALUES ('w', 'h', 1, 1);";
    for (int n = 1; n <= 3; ++n) {
      const std::string id = testing::HexId(n);
      sql +=
          "INSERT INTO trials (id, canonical_json, model, task, regularizer, lambda, zeta,"
          " batch_size, epochs, seed, learning_rate, status, created_at, queue_order) "
          "VALUES ('" +
          id + "', '{}', 'bert', 'sst2', 'istar', -1, 0.2, 32, 4, " + std::to_string(n) +
          ", 1e-5, '" + (n == 1 ? "leased" : "pending") + "', 100, " + std::to_string(n) + ");" +
          "INSERT INTO sweep_trials VALUES ('s', '" + id + "', " + std::to_string(n - 1) + ");";
    }
    sql += "INSERT INTO attempts (trial_id, attempt, worker_id, started_at) VALUES ('" +
           testing::HexId(1) + "', 1, 'w', 100);" + "INSERT INTO metrics VALUES ('" +
           testing::HexId(1) + "', 1, 0.1, 'train', 'loss', 0.5);";
    ASSERT_EQ(raw.Exec(sql), "");
    // The reason for version 4: a version 3 file refuses any other name.
    EXPECT_THAT(
        raw.Exec("UPDATE trials SET regularizer = 'vicreg' WHERE id = '" + testing::HexId(2) + "'"),
        HasSubstr("CHECK constraint failed"));
  }
  std::unique_ptr<Store> store = OpenStore(path);
  ASSERT_NE(store, nullptr);
  RawDb raw(path);
  EXPECT_EQ(raw.Int("PRAGMA user_version"), CurrentSchemaVersion());
  EXPECT_EQ(raw.Int("SELECT count(*) FROM trials"), 3);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM sweep_trials"), 3);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM attempts"), 1);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM metrics"), 1);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM pragma_foreign_key_check"), 0);
  EXPECT_EQ(raw.Column("PRAGMA integrity_check"), std::vector<std::string>{"ok"});
  EXPECT_EQ(raw.Column("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = "
                       "'trials' AND name NOT LIKE 'sqlite_%' ORDER BY name"),
            (std::vector<std::string>{"trials_by_cell", "trials_by_queue_order", "trials_by_status",
                                      "trials_queue"}));
  // The lease, the queue order and the status came through.
  EXPECT_EQ(
      raw.Column("SELECT id || ' ' || status || ' ' || queue_order FROM trials ORDER BY id"),
      (std::vector<std::string>{testing::HexId(1) + " leased 1", testing::HexId(2) + " pending 2",
                                testing::HexId(3) + " pending 3"}));
  // Foreign keys still hold for the rebuilt table, in both directions.
  EXPECT_THAT(raw.Exec("PRAGMA foreign_keys = ON; INSERT INTO metrics VALUES ('" +
                       testing::HexId(9) + "', 1, 0.1, 'train', 'loss', 0.5)"),
              HasSubstr("FOREIGN KEY constraint failed"));
  EXPECT_THAT(raw.Exec("PRAGMA foreign_keys = ON; DELETE FROM trials WHERE id = '" +
                       testing::HexId(3) + "'; SELECT 1"),
              "");
  EXPECT_EQ(raw.Int("SELECT count(*) FROM sweep_trials"), 2);  // ON DELETE CASCADE still there
  // And every catalogue name is accepted now; an unknown one is refused by the store.
  ASSERT_TRUE(
      store->SubmitSweep(MakeSweep("new", {MakeTrial(4, {.regularizer = "vicreg", .lambda = 0.5})}))
          .ok());
  const absl::StatusOr<SubmitResult> unknown =
      store->SubmitSweep(MakeSweep("bad", {MakeTrial(5, {.regularizer = "l2"})}));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(unknown.status().message()),
              HasSubstr("unknown regularizer 'l2'; expected one of baseline, cosreg, istar"));
}

// Version 5 stores each trial's gradient_accumulation_steps, which a lease carries (Note [A lease
// carries its trial], schema.cc). Trials submitted before it hold NULL, and their first lease
// reads the value from the YAML of the first sweep that holds them.
TEST(StoreOpen, MigratesAVersion4FileReadingAccumulationFromTheFirstSweep) {
  ScratchDir dir;
  const std::string path = dir.Path("v4.db");
  ASSERT_TRUE(CreateStoreAtVersion(path, 4).ok());
  // Two sweeps as a version 4 binary stores them: "early" (2 micro-batches) holds seeds 0 and 1,
  // "late" (4 micro-batches, submitted later) holds seeds 1 and 2.
  const auto sweep_yaml = [](const std::string& name, int accumulation, const std::string& seeds) {
    return "name: " + name + "\nmodels: {bert: /m}\ntasks: {sst2: /t}\ntraining: {" +
           "gradient_accumulation_steps: " + std::to_string(accumulation) + "}\ngrid:\n  seed: [" +
           seeds + "]\n  regularizers: [baseline]\n";
  };
  const std::string early_yaml = sweep_yaml("early", 2, "0, 1");
  const std::string late_yaml = sweep_yaml("late", 4, "1, 2");
  const absl::StatusOr<sweeps::SweepSpec> early = sweeps::ParseSweep(early_yaml, "early.yaml");
  const absl::StatusOr<sweeps::SweepSpec> late = sweeps::ParseSweep(late_yaml, "late.yaml");
  ASSERT_TRUE(early.ok() && late.ok()) << early.status() << late.status();
  ASSERT_EQ(early->trials[1].id, late->trials[0].id);  // seed 1 is in both
  const std::vector<std::string> ids = {early->trials[0].id, early->trials[1].id,
                                        late->trials[1].id};
  {
    RawDb raw(path);
    std::string sql = "INSERT INTO sweeps VALUES ('e', 'early', 'early.yaml', '" + early_yaml +
                      "', 2, 100);" + "INSERT INTO sweeps VALUES ('l', 'late', 'late.yaml', '" +
                      late_yaml + "', 2, 200);";
    for (size_t n = 0; n < ids.size(); ++n) {
      sql +=
          "INSERT INTO trials (id, canonical_json, model, task, regularizer, lambda, zeta,"
          " batch_size, epochs, seed, learning_rate, created_at, queue_order) VALUES ('" +
          ids[n] + "', '{}', 'bert', 'sst2', 'baseline', 0, 0, 32, 4, " + std::to_string(n) +
          ", 1e-5, 100, " + std::to_string(n + 1) + ");";
    }
    sql += "INSERT INTO sweep_trials VALUES ('e', '" + ids[0] + "', 0), ('e', '" + ids[1] +
           "', 1), ('l', '" + ids[1] + "', 0), ('l', '" + ids[2] + "', 1);";
    ASSERT_EQ(raw.Exec(sql), "");
  }
  std::unique_ptr<Store> store = OpenStore(path);
  ASSERT_NE(store, nullptr);
  RawDb raw(path);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM trials WHERE gradient_accumulation_steps IS NULL"), 3);
  const LeasePolicy policy;
  std::vector<int64_t> accumulation;
  ASSERT_TRUE(store->RegisterWorker("w", "h").ok());
  for (int i = 0; i < 3; ++i) {
    const absl::StatusOr<std::optional<Lease>> lease = store->LeaseTrial("w", 1, policy);
    ASSERT_TRUE(lease.ok() && lease->has_value()) << lease.status();
    EXPECT_EQ((*lease)->trial_id, ids[i]);
    EXPECT_EQ((*lease)->ranks_per_trial, 1);
    accumulation.push_back((*lease)->gradient_accumulation_steps);
    if (i == 0) {
      // The first lease filled the column for the first sweep's trials, and no other.
      EXPECT_EQ(raw.Column("SELECT coalesce(gradient_accumulation_steps, 'null') FROM trials "
                           "ORDER BY queue_order"),
                (std::vector<std::string>{"2", "2", "null"}));
    }
  }
  // Seed 1 takes the first sweep's value, as its lease took that sweep's YAML before.
  EXPECT_EQ(accumulation, (std::vector<int64_t>{2, 2, 4}));
}

TEST(StoreOpen, ReadOnlyOpenOfAnOlderSchemaIsFailedPrecondition) {
  ScratchDir dir;
  const std::string path = dir.Path("v1.db");
  ASSERT_TRUE(CreateStoreAtVersion(path, 1).ok());
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path, {.mode = OpenMode::kReadOnly});
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), AllOf(HasSubstr(path), HasSubstr("older")));
  RawDb raw(path);
  EXPECT_EQ(raw.Int("PRAGMA user_version"), 1);  // not migrated
}

TEST(StoreOpen, NewerSchemaIsFailedPreconditionInBothModes) {
  ScratchDir dir;
  const std::string path = dir.Path("future.db");
  ASSERT_NE(OpenStore(path), nullptr);
  RawDb(path).Exec("PRAGMA user_version = 99");
  for (const OpenMode mode : {OpenMode::kReadWrite, OpenMode::kReadOnly}) {
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path, {.mode = mode});
    EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(store.status().message(), AllOf(HasSubstr("99"), HasSubstr("newer")));
  }
}

TEST(StoreOpen, SchemaVersionOutOfRangeIsInvalidArgument) {
  ScratchDir dir;
  EXPECT_EQ(CreateStoreAtVersion(dir.Path("x.db"), 0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateStoreAtVersion(dir.Path("x.db"), CurrentSchemaVersion() + 1).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(dir.Path("x.db")));
}

TEST(StoreOpen, ReadOnlyOpenOfAMissingFileIsNotFoundAndCreatesNothing) {
  ScratchDir dir;
  const std::string path = dir.Path("missing.db");
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path, {.mode = OpenMode::kReadOnly});
  EXPECT_EQ(store.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(store.status().message(), HasSubstr(path));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(StoreOpen, ReadOnlyStoreRejectsEveryWrite) {
  ScratchDir dir;
  const std::string path = dir.Path("results.db");
  ASSERT_NE(OpenStore(path), nullptr);
  std::unique_ptr<Store> store = OpenReadOnly(path);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->read_only());
  EXPECT_EQ(store->SubmitSweep(MakeSweep("s", {MakeTrial(1)})).status().code(),
            absl::StatusCode::kFailedPrecondition);
  const MetricRow row{.trial_id = testing::HexId(1), .split = "train", .name = "loss"};
  const absl::Status status = store->WriteMetrics({&row, 1});
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("read-only"));
  EXPECT_EQ(store->MarkTrialRunning(testing::HexId(1)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  RawDb raw(path);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM sweeps"), 0);
}

TEST(StoreOpen, AFileThatIsNotADatabaseIsInvalidArgumentWithSqlitesText) {
  ScratchDir dir;
  const std::string path = dir.Path("notes.db");
  std::ofstream(path) << std::string(4096, 'x');
  for (const OpenMode mode : {OpenMode::kReadWrite, OpenMode::kReadOnly}) {
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path, {.mode = mode});
    EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(store.status().message(),
                AllOf(HasSubstr(path), HasSubstr("file is not a database"),
                      HasSubstr("SQLITE_NOTADB"), HasSubstr("db/")));
  }
}

TEST(StoreOpen, AnotherProgramsDatabaseIsLeftAlone) {
  ScratchDir dir;
  const std::string path = dir.Path("other.db");
  RawDb(path).Exec("CREATE TABLE notes (text TEXT)");
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("not an istar results database"));
  RawDb raw(path);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM sqlite_master"), 1);
}

TEST(StoreOpen, AMissingDirectoryIsNotFoundWithSqlitesText) {
  ScratchDir dir;
  const std::string path = dir.Path("no/such/dir/results.db");
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(store.status().message(),
              AllOf(HasSubstr(path), HasSubstr("unable to open database file"),
                    HasSubstr("SQLITE_CANTOPEN")));
}

TEST(StoreOpen, AWriteLockHeldPastTheBusyTimeoutIsUnavailable) {
  ScratchDir dir;
  const std::string path = dir.Path("results.db");
  std::unique_ptr<Store> store = OpenStore(path, {.busy_timeout = std::chrono::milliseconds(50)});
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->SubmitSweep(MakeSweep("s", {MakeTrial(1)})).ok());
  RawDb other(path);
  ASSERT_EQ(other.Exec("BEGIN IMMEDIATE"), "");
  const MetricRow row{.trial_id = testing::HexId(1), .split = "train", .name = "loss"};
  const absl::Status status = store->WriteMetrics({&row, 1});
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("database is locked"), HasSubstr("BEGIN IMMEDIATE"),
                                      HasSubstr("db/internal/results.cc:")));
  // Reads go on while the other connection holds the write lock (WAL).
  EXPECT_TRUE(store->ListTrials().ok());
  ASSERT_EQ(other.Exec("ROLLBACK"), "");
  EXPECT_TRUE(store->WriteMetrics({&row, 1}).ok());
}

TEST(StoreOpen, ConcurrentFirstOpensMigrateOnce) {
  ScratchDir dir;
  const std::string path = dir.Path("results.db");
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] { results[i] = Store::Open(path).status(); });
  }
  for (std::thread& thread : threads) thread.join();
  for (const absl::Status& status : results) EXPECT_TRUE(status.ok()) << status;
  RawDb raw(path);
  EXPECT_EQ(raw.Int("PRAGMA user_version"), CurrentSchemaVersion());
}

TEST(StoreOpen, NegativeBusyTimeoutIsInvalidArgument) {
  ScratchDir dir;
  absl::StatusOr<std::unique_ptr<Store>> store =
      Store::Open(dir.Path("x.db"), {.busy_timeout = std::chrono::milliseconds(-1)});
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace istar::db

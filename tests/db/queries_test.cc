// The read API: trial listings and their filters, id prefixes, and the user's read-only SQL.
#include <memory>
#include <string>
#include <vector>

#include "db/store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/db/test_util.h"

namespace istar::db {
namespace {

using ::istar::db::testing::HexId;
using ::istar::db::testing::MakeSweep;
using ::istar::db::testing::MakeTrial;
using ::istar::db::testing::OpenReadOnly;
using ::istar::db::testing::OpenStore;
using ::istar::db::testing::RawDb;
using ::istar::db::testing::ScratchDir;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Six trials: on sst2, bert baseline (trials 1 and 2: seeds 0 and 1) and istar (3, lambda -5),
// albert baseline (0x100) and istar (0x101), whose ids share 62 digits; and bert on qnli (9),
// in a second sweep.
class QueriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::unique_ptr<Store> writer = OpenStore(path_);
    ASSERT_NE(writer, nullptr);
    const std::vector<sweeps::TrialSpec> trials = {
        MakeTrial(1, {.model = "bert", .seed = 0}),
        MakeTrial(2, {.model = "bert", .seed = 1}),
        MakeTrial(3, {.model = "bert", .regularizer = "istar", .lambda = -5}),
        MakeTrial(0x100, {.model = "albert", .seed = 0}),
        MakeTrial(0x101, {.model = "albert", .regularizer = "istar", .lambda = -5}),
    };
    ASSERT_TRUE(writer->SubmitSweep(MakeSweep("grid", trials)).ok());
    ASSERT_TRUE(writer->SubmitSweep(MakeSweep("extra", {MakeTrial(9, {.task = "qnli"})})).ok());
    ASSERT_TRUE(writer->MarkTrialRunning(HexId(3)).ok());
    ASSERT_TRUE(writer->MarkTrialDone(HexId(3)).ok());
    const std::vector<FinalResult> results = {{"validation", "accuracy", 0.9},
                                              {"test", "accuracy", 0.8}};
    ASSERT_TRUE(writer->WriteFinalResults(HexId(3), results).ok());
    store_ = OpenReadOnly(path_);
    ASSERT_NE(store_, nullptr);
  }

  std::vector<std::string> Ids(const TrialFilter& filter) {
    absl::StatusOr<std::vector<TrialRecord>> trials = store_->ListTrials(filter);
    EXPECT_TRUE(trials.ok()) << trials.status();
    std::vector<std::string> ids;
    if (trials.ok()) {
      for (const TrialRecord& trial : *trials) ids.push_back(trial.id);
    }
    return ids;
  }

  ScratchDir dir_;
  const std::string path_ = dir_.Path("results.db");
  std::unique_ptr<Store> store_;
};

TEST_F(QueriesTest, TrialsAreOrderedByModelTaskRegularizerAndSettings) {
  // bert/qnli (trial 9) before bert/sst2; baseline before istar; then by seed.
  EXPECT_THAT(Ids({}),
              ElementsAre(HexId(0x100), HexId(0x101), HexId(9), HexId(1), HexId(2), HexId(3)));
}

TEST_F(QueriesTest, FilterFieldsCombineWithAndAndTheirValuesWithOr) {
  EXPECT_THAT(Ids({.models = {"bert"}, .regularizers = {"baseline"}}),
              ElementsAre(HexId(9), HexId(1), HexId(2)));
  EXPECT_THAT(Ids({.models = {"bert"}, .tasks = {"sst2"}, .regularizers = {"baseline"}}),
              ElementsAre(HexId(1), HexId(2)));
  EXPECT_THAT(Ids({.models = {"bert", "albert"}, .lambdas = {-5.0}}),
              ElementsAre(HexId(0x101), HexId(3)));
  EXPECT_THAT(Ids({.statuses = {TrialStatus::kDone}}), ElementsAre(HexId(3)));
  EXPECT_THAT(Ids({.tasks = {"qnli"}}), ElementsAre(HexId(9)));
  EXPECT_THAT(Ids({.sweeps = {"grid"}, .seeds = {1}}), ElementsAre(HexId(2)));
  EXPECT_THAT(Ids({.trial_ids = {HexId(0x100).substr(0, 62)}}),
              ElementsAre(HexId(0x100), HexId(0x101)));
  EXPECT_THAT(Ids({.models = {"gpt"}}), ElementsAre());
}

TEST_F(QueriesTest, EachTrialComesWithItsFinalResults) {
  absl::StatusOr<TrialRecord> trial = store_->GetTrial(HexId(3));
  ASSERT_TRUE(trial.ok()) << trial.status();
  ASSERT_EQ(trial->final_results.size(), 2u);
  EXPECT_EQ(trial->final_results[0].split, "test");
  EXPECT_EQ(trial->final_results[1].split, "validation");
  EXPECT_EQ(trial->final_results[1].value, 0.9);
  EXPECT_EQ(trial->lambda, -5.0);
  EXPECT_EQ(trial->regularizer, "istar");
}

TEST_F(QueriesTest, AnUnknownSweepIsNotFound) {
  const absl::Status status = store_->ListTrials({.sweeps = {"nope"}}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("'nope'"));
}

TEST_F(QueriesTest, AUniqueIdPrefixResolvesToItsTrial) {
  absl::StatusOr<std::string> id = store_->ResolveTrialId(HexId(3).substr(0, 63) + "3");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, HexId(3));
  id = store_->ResolveTrialId(HexId(0x101).substr(0, 64));
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, HexId(0x101));
}

TEST_F(QueriesTest, AnAmbiguousMissingOrMalformedPrefixIsRefused) {
  const absl::Status ambiguous = store_->ResolveTrialId("0000").status();
  EXPECT_EQ(ambiguous.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ambiguous.message(), HasSubstr("ambiguous"));
  EXPECT_EQ(store_->ResolveTrialId("ff").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->ResolveTrialId("xyz").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ResolveTrialId("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(QueriesTest, ExportingAnUnknownTrialIsNotFound) {
  EXPECT_EQ(store_->ExportTrajectories(HexId(4)).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(QueriesTest, AReadOnlyQueryReturnsColumnsAndTypedValues) {
  absl::StatusOr<QueryResult> result = store_->RunReadOnlyQuery(
      "SELECT 1 AS one, 2.5 AS half, 'x' AS text, NULL AS missing, "
      "x'0aff' AS bytes");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->columns, ElementsAre("one", "half", "text", "missing", "bytes"));
  ASSERT_EQ(result->rows.size(), 1u);
  const std::vector<QueryValue>& row = result->rows[0];
  EXPECT_EQ(row[0].kind, QueryValue::Kind::kInteger);
  EXPECT_EQ(row[0].text, "1");
  EXPECT_EQ(row[1].kind, QueryValue::Kind::kReal);
  EXPECT_EQ(row[1].text, "2.5");
  EXPECT_EQ(row[2].kind, QueryValue::Kind::kText);
  EXPECT_EQ(row[3].kind, QueryValue::Kind::kNull);
  EXPECT_EQ(row[4].text, "x'0aff'");

  result = store_->RunReadOnlyQuery(
      "SELECT status, count(*) FROM trials GROUP BY status "
      "ORDER BY status");
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->rows.size(), 2u);
  EXPECT_EQ(result->rows[0][0].text, "done");
  EXPECT_EQ(result->rows[1][1].text, "5");
}

TEST_F(QueriesTest, AQueryThatWritesIsInvalidArgument) {
  for (const std::string sql :
       {"INSERT INTO workers VALUES ('w', 'h', 0, 0, 0, 0)", "DELETE FROM trials",
        "UPDATE trials SET status = 'pending'", "PRAGMA user_version = 5",
        "PRAGMA journal_mode = DELETE", "BEGIN", "DROP TABLE metrics", "ATTACH 'other.db' AS other",
        "CREATE TEMP TABLE t (x)"}) {
    const absl::Status status = store_->RunReadOnlyQuery(sql).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << sql;
    EXPECT_THAT(status.message(), HasSubstr(sql));
  }
  // The same holds on a read-write store, whose connection could write.
  std::unique_ptr<Store> writer = OpenStore(path_);
  ASSERT_NE(writer, nullptr);
  EXPECT_EQ(writer->RunReadOnlyQuery("DELETE FROM trials").status().code(),
            absl::StatusCode::kInvalidArgument);
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM trials"), 6);
  EXPECT_EQ(raw.Int("PRAGMA user_version"), CurrentSchemaVersion());
}

TEST_F(QueriesTest, AnSqlErrorCarriesSqlitesTextAndTheQuery) {
  absl::Status status = store_->RunReadOnlyQuery("SELEC 1").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("syntax error"), HasSubstr("SELEC 1"), HasSubstr("SQLITE_ERROR")));
  status = store_->RunReadOnlyQuery("SELECT * FROM nowhere").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("no such table: nowhere"));
  status = store_->RunReadOnlyQuery("SELECT 1; SELECT 2").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("one SQL statement"));
  EXPECT_TRUE(store_->RunReadOnlyQuery("SELECT 1; -- a comment after the statement\n").ok());
}

}  // namespace
}  // namespace istar::db

// Writing metric, isotropy and final-result rows: upserts, validation, atomic batches, and a
// reader and writers working on one file at the same time.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
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
using ::testing::HasSubstr;

class ResultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStore(path_);
    ASSERT_NE(store_, nullptr);
    ASSERT_TRUE(
        store_->SubmitSweep(MakeSweep("s", {MakeTrial(1), MakeTrial(2, {.seed = 1})})).ok());
  }
  int64_t Count(const std::string& table) {
    return RawDb(path_).Int("SELECT count(*) FROM " + table);
  }

  ScratchDir dir_;
  const std::string path_ = dir_.Path("results.db");
  std::unique_ptr<Store> store_;
};

MetricRow Metric(int trial, int64_t step, const std::string& name, double value) {
  return {.trial_id = HexId(trial),
          .step = step,
          .epoch = step / 100.0,
          .split = "train",
          .name = name,
          .value = value};
}

TEST_F(ResultsTest, AMetricRowWithAStoredKeyReplacesIt) {
  const std::vector<MetricRow> first = {Metric(1, 0, "loss", 0.9), Metric(1, 10, "loss", 0.7),
                                        Metric(1, 10, "lr", 1e-5)};
  ASSERT_TRUE(store_->WriteMetrics(first).ok());
  ASSERT_TRUE(store_->WriteMetrics(first).ok());  // a resent batch
  EXPECT_EQ(Count("metrics"), 3);
  const std::vector<MetricRow> second = {Metric(1, 10, "loss", 0.6), Metric(1, 20, "loss", 0.5)};
  ASSERT_TRUE(store_->WriteMetrics(second).ok());
  EXPECT_EQ(Count("metrics"), 4);

  absl::StatusOr<Trajectories> out = store_->ExportTrajectories(HexId(1));
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->metrics.size(), 4u);
  EXPECT_EQ(out->metrics[1].step, 10);
  EXPECT_EQ(out->metrics[1].name, "loss");
  EXPECT_EQ(out->metrics[1].value, 0.6);
  EXPECT_EQ(out->metrics[2].name, "lr");  // ordered by (step, split, name)
}

TEST_F(ResultsTest, AMetricOfAnUnknownTrialIsNotFoundAndTheBatchIsNotWritten) {
  const std::vector<MetricRow> rows = {Metric(1, 0, "loss", 0.9), Metric(77, 0, "loss", 0.9)};
  const absl::Status status = store_->WriteMetrics(rows);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("row 1"), HasSubstr(HexId(77)),
                                      HasSubstr("FOREIGN KEY constraint failed")));
  EXPECT_EQ(Count("metrics"), 0);
}

TEST_F(ResultsTest, ANonFiniteMetricIsInvalidArgument) {
  const std::vector<MetricRow> rows = {Metric(1, 0, "loss", std::nan(""))};
  const absl::Status status = store_->WriteMetrics(rows);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("train/loss"));
  const std::vector<MetricRow> unnamed = {Metric(1, 0, "", 1.0)};
  EXPECT_EQ(store_->WriteMetrics(unnamed).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_->WriteMetrics({}).ok());
}

TEST_F(ResultsTest, IsotropyKeepsTheUnionAndEachLayerApart) {
  std::vector<IsotropyRow> rows;
  for (const int64_t step : {50, 0}) {
    for (const int64_t layer : {int64_t{2}, int64_t{1}, IsotropyRow::kUnionLayer, int64_t{0}}) {
      rows.push_back(
          {.trial_id = HexId(1),
           .step = step,
           .epoch = step / 100.0,
           .layer = layer,
           .isoscore_star = 0.1 * static_cast<double>(layer + 2),
           .isoscore = 0.05,
           .avg_cosine = 0.9,
           .twonn = layer == IsotropyRow::kUnionLayer ? std::optional(12.5) : std::nullopt});
    }
  }
  ASSERT_TRUE(store_->WriteIsotropy(rows).ok());
  rows[0].isoscore_star = 0.99;  // step 50, layer 2, rewritten
  ASSERT_TRUE(store_->WriteIsotropy({&rows[0], 1}).ok());
  EXPECT_EQ(Count("isotropy"), 8);

  absl::StatusOr<Trajectories> out = store_->ExportTrajectories(HexId(1));
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->isotropy.size(), 8u);
  EXPECT_EQ(out->isotropy[0].step, 0);
  EXPECT_EQ(out->isotropy[0].layer, IsotropyRow::kUnionLayer);  // -1 sorts first
  EXPECT_EQ(out->isotropy[0].twonn, 12.5);
  EXPECT_EQ(out->isotropy[1].layer, 0);
  EXPECT_EQ(out->isotropy[1].twonn, std::nullopt);
  EXPECT_EQ(out->isotropy[7].step, 50);
  EXPECT_EQ(out->isotropy[7].layer, 2);
  EXPECT_EQ(out->isotropy[7].isoscore_star, 0.99);
  EXPECT_EQ(RawDb(path_).Int("SELECT count(*) FROM isotropy WHERE layer = -1"), 2);
}

TEST_F(ResultsTest, ALayerBelowTheUnionIsInvalidArgument) {
  const IsotropyRow row{.trial_id = HexId(1), .layer = -2};
  const absl::Status status = store_->WriteIsotropy({&row, 1});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("layer -2"));
}

TEST_F(ResultsTest, FinalResultsAreUpsertedByTrialSplitAndName) {
  const std::vector<FinalResult> first = {{"validation", "accuracy", 0.91},
                                          {"validation", "loss", 0.3}};
  ASSERT_TRUE(store_->WriteFinalResults(HexId(1), first).ok());
  const std::vector<FinalResult> second = {{"validation", "accuracy", 0.92}};
  ASSERT_TRUE(store_->WriteFinalResults(HexId(1), second).ok());
  EXPECT_EQ(Count("final_results"), 2);
  absl::StatusOr<TrialRecord> trial = store_->GetTrial(HexId(1));
  ASSERT_TRUE(trial.ok());
  ASSERT_EQ(trial->final_results.size(), 2u);
  EXPECT_EQ(trial->final_results[0].name, "accuracy");
  EXPECT_EQ(trial->final_results[0].value, 0.92);
  EXPECT_EQ(store_->WriteFinalResults(HexId(55), second).code(), absl::StatusCode::kNotFound);
}

// A reader and a writer on separate Stores (separate connections, as separate processes would
// have): in WAL mode the reader never sees SQLITE_BUSY, and each read sees a whole batch or none.
TEST_F(ResultsTest, AReaderSeesNoErrorWhileAWriterInsertsThousandsOfRows) {
  constexpr int kBatches = 20;
  constexpr int kRowsPerBatch = 500;
  std::unique_ptr<Store> reader = OpenReadOnly(path_);
  ASSERT_NE(reader, nullptr);
  std::atomic<bool> writing = true;
  absl::Status write_status;
  std::thread writer([&] {
    for (int b = 0; b < kBatches && write_status.ok(); ++b) {
      std::vector<MetricRow> rows;
      for (int i = 0; i < kRowsPerBatch; ++i) {
        rows.push_back(Metric(1 + i % 2, b * kRowsPerBatch + i, "loss", 1.0 / (i + 1)));
      }
      write_status = store_->WriteMetrics(rows);
    }
    writing = false;
  });
  int reads = 0;
  int64_t last_count = 0;
  absl::Status read_status;
  while (read_status.ok() && (writing || reads == 0)) {
    absl::StatusOr<QueryResult> count = reader->RunReadOnlyQuery("SELECT count(*) FROM metrics");
    absl::StatusOr<std::vector<TrialRecord>> trials = reader->ListTrials();
    read_status = !count.ok() ? count.status() : trials.status();
    if (!read_status.ok()) break;
    const int64_t rows = std::stoll(count->rows[0][0].text);
    EXPECT_EQ(rows % kRowsPerBatch, 0) << "a read saw part of a batch";
    EXPECT_GE(rows, last_count);
    last_count = rows;
    ++reads;
  }
  writer.join();
  EXPECT_TRUE(write_status.ok()) << write_status;
  EXPECT_TRUE(read_status.ok()) << read_status;
  EXPECT_GT(reads, 0);
  EXPECT_EQ(Count("metrics"), kBatches * kRowsPerBatch);
}

TEST_F(ResultsTest, TwoWritersQueueOnTheBusyTimeout) {
  std::unique_ptr<Store> other = OpenStore(path_);
  ASSERT_NE(other, nullptr);
  auto write = [](Store* store, int trial, absl::Status* status) {
    for (int b = 0; b < 20 && status->ok(); ++b) {
      std::vector<MetricRow> rows;
      for (int i = 0; i < 100; ++i) rows.push_back(Metric(trial, b * 100 + i, "loss", 0.5));
      *status = store->WriteMetrics(rows);
    }
  };
  absl::Status first;
  absl::Status second;
  std::thread a(write, store_.get(), 1, &first);
  std::thread b(write, other.get(), 2, &second);
  a.join();
  b.join();
  EXPECT_TRUE(first.ok()) << first;
  EXPECT_TRUE(second.ok()) << second;
  EXPECT_EQ(Count("metrics"), 4000);
}

}  // namespace
}  // namespace istar::db

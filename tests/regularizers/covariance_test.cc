// Covariance statistics: computing, merging shards, summing over ranks, and the streaming
// shrinkage estimator.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "regularizers/isotropy.h"
#include "tests/regularizers/test_util.h"

namespace istar::regularizers {
namespace {

using ::istar::testing::Float64;
using ::istar::testing::SeededGenerator;

// The scatter matrix by its definition, from at::cov (an independent implementation).
at::Tensor ReferenceScatter(const at::Tensor& rows) {
  return at::cov(rows.t()) * static_cast<double>(rows.size(0) - 1);
}

void ExpectStatsOf(const CovarianceStats& stats, const at::Tensor& rows, double tolerance) {
  EXPECT_EQ(stats.count.item<double>(), static_cast<double>(rows.size(0)));
  EXPECT_TRUE(at::allclose(stats.sum, rows.sum(0), 0, tolerance));
  EXPECT_TRUE(at::allclose(stats.scatter, ReferenceScatter(rows), 0, tolerance))
      << "max error " << (stats.scatter - ReferenceScatter(rows)).abs().max().item<double>();
}

TEST(CovarianceStats, OfPointsMatchDefinition) {
  at::Generator gen = SeededGenerator(20);
  const at::Tensor rows = at::randn({100, 6}, gen, Float64()) * 3.0 + 10.0;
  absl::StatusOr<CovarianceStats> stats = ComputeCovarianceStats(rows);
  ASSERT_TRUE(stats.ok()) << stats.status();
  ExpectStatsOf(*stats, rows, 1e-10);
}

TEST(CovarianceStats, MergeOfShardsEqualsStatsOfWhole) {
  at::Generator gen = SeededGenerator(21);
  const at::Tensor rows = at::randn({97, 5}, gen, Float64()) * 2.0 - 4.0;
  // Uneven shards, one of them empty; each shard has a different mean.
  const std::vector<std::pair<int64_t, int64_t>> shards = {{0, 40}, {40, 40}, {40, 41}, {41, 97}};
  CovarianceStats merged = *ComputeCovarianceStats(rows.slice(0, 0, 0));
  for (const auto& [begin, end] : shards) {
    merged = MergeCovarianceStats(merged, *ComputeCovarianceStats(rows.slice(0, begin, end)));
  }
  ExpectStatsOf(merged, rows, 1e-10);
}

// A CrossRankSum that plays one rank of a two-rank group whose other rank holds `other` rows.
// It expects the two collectives of SumOverRanks and answers each with this rank's tensor plus the
// other rank's contribution written out from the definition: first (count, sum), then the other
// rows' scatter about the global mean. That mean is taken from the first answer, so the second
// answer depends on this rank's rows as it does in a real group, where the all-reduce's backward
// carries the other rank's gradient back.
class TwoRankGroup final : public CrossRankSum {
 public:
  explicit TwoRankGroup(at::Tensor other) : other_(std::move(other)) {}
  int world_size() const override { return 2; }
  int rank() const override { return 0; }
  at::Tensor Sum(const at::Tensor& local) const override {
    ++calls_;
    if (calls_ == 1) {
      totals_ = local + at::cat({at::full({1}, static_cast<double>(other_.size(0)), Float64()),
                                 other_.sum(0)});
      return totals_;
    }
    EXPECT_EQ(calls_, 2) << "more collectives than SumOverRanks should issue";
    const at::Tensor global_mean = totals_.slice(0, 1) / totals_[0];
    const at::Tensor centred = other_ - global_mean;
    return local + centred.t().mm(centred);
  }
  int calls() const { return calls_; }

 private:
  at::Tensor other_;
  mutable at::Tensor totals_;
  mutable int calls_ = 0;
};

TEST(SumOverRanks, TwoRanksGiveTheStatsOfTheWholeBatch) {
  at::Generator gen = SeededGenerator(22);
  const at::Tensor whole = at::randn({30, 4}, gen, Float64()) + at::arange(4, Float64());
  const at::Tensor mine = whole.slice(0, 0, 12);
  TwoRankGroup ranks(whole.slice(0, 12));
  const CovarianceStats global = SumOverRanks(*ComputeCovarianceStats(mine), ranks);
  EXPECT_EQ(ranks.calls(), 2);
  ExpectStatsOf(global, whole, 1e-10);
}

TEST(SumOverRanks, IsoScoreStarGradientOnOneRankEqualsWholeBatchGradient) {
  at::Generator gen = SeededGenerator(23);
  const at::Tensor whole = at::randn({40, 5}, gen, Float64()) * at::arange(1, 6, Float64());
  const at::Tensor s0 = at::eye(5, Float64());
  const at::Tensor whole_leaf = whole.clone().requires_grad_();
  IsoScoreStar(whole_leaf, {}, {.zeta = 0.4, .shrinkage = s0})->backward();

  const at::Tensor mine = whole.slice(0, 0, 17).clone().requires_grad_();
  TwoRankGroup ranks(whole.slice(0, 17));
  absl::StatusOr<at::Tensor> value =
      IsoScoreStar(mine, {}, {.zeta = 0.4, .shrinkage = s0, .ranks = &ranks});
  ASSERT_TRUE(value.ok()) << value.status();
  value->backward();
  const at::Tensor expected = whole_leaf.grad().slice(0, 0, 17);
  EXPECT_LE((mine.grad() - expected).abs().max().item<double>(),
            1e-10 * expected.abs().max().item<double>());
}

TEST(ShrinkageEstimator, StreamedBatchesEqualCovarianceOfAllPoints) {
  at::Generator gen = SeededGenerator(24);
  const at::Tensor all = at::randn({1000, 8}, gen, Float64()) * 0.5 + 3.0;
  ShrinkageEstimator estimator(8);
  for (int64_t begin = 0; begin < 1000; begin += 137) {
    ASSERT_TRUE(estimator.Add(all.slice(0, begin, begin + 137)).ok());
  }
  absl::StatusOr<at::Tensor> s0 = estimator.Finish();
  ASSERT_TRUE(s0.ok()) << s0.status();
  EXPECT_EQ(s0->scalar_type(), at::kDouble);
  EXPECT_TRUE(at::allclose(*s0, at::cov(all.t()), 0, 1e-12));
}

TEST(ShrinkageEstimator, StopsAtThePointBudgetAndSkipsMaskedRows) {
  at::Generator gen = SeededGenerator(25);
  const at::Tensor batch = at::randn({50, 3}, gen, Float64());
  at::Tensor keep = at::ones({50}, at::TensorOptions().dtype(at::kBool));
  keep.slice(0, 0, 10).fill_(false);
  ShrinkageEstimator estimator(3, /*point_budget=*/65);
  EXPECT_EQ(*estimator.Add(batch, keep), 40);
  EXPECT_EQ(*estimator.Add(batch), 25);  // only the first 25 rows fit
  EXPECT_TRUE(estimator.full());
  EXPECT_EQ(*estimator.Add(batch), 0);
  const at::Tensor used = at::cat({batch.slice(0, 10), batch.slice(0, 0, 25)});
  EXPECT_TRUE(at::allclose(*estimator.Finish(), at::cov(used.t()), 0, 1e-12));
}

// Note [Centre before the scatter matrix]: a large mean with a small spread, given in float32,
// is accumulated in float64 and matches the float64 covariance of the same float32 values.
TEST(ShrinkageEstimator, AccumulatesFloat32BatchesInFloat64) {
  at::Generator gen = SeededGenerator(26);
  const at::Tensor batch32 =
      (at::randn({4000, 4}, gen, Float64()) * 0.01 + 1e4).to(at::kFloat);
  ShrinkageEstimator estimator(4);
  ASSERT_TRUE(estimator.Add(batch32).ok());
  const at::Tensor expected = at::cov(batch32.to(at::kDouble).t());
  EXPECT_TRUE(at::allclose(*estimator.Finish(), expected, 1e-9, 0));
}

TEST(ShrinkageEstimator, RejectsWrongDimensionAndTooFewPoints) {
  ShrinkageEstimator estimator(4);
  absl::StatusOr<int64_t> added = estimator.Add(at::randn({5, 3}, Float64()));
  ASSERT_FALSE(added.ok());
  EXPECT_NE(added.status().message().find("expected d = 4"), std::string::npos);
  EXPECT_EQ(estimator.Finish().status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace istar::regularizers

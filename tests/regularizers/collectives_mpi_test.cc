// Tensor collectives and the global regularizers across two real MPI processes (ctest runs this
// binary under mpiexec -n 2). Each rank holds a slice of one point cloud drawn from a seed both
// ranks share, and computes the whole cloud's reference values itself, with no communication, to
// compare against: the gradients must equal those of one process on the whole batch
// (docs/isotropy.md, "Covariance statistics").
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "regularizers/isotropy.h"
#include "regularizers/tensor_collectives.h"
#include "tests/regularizers/test_util.h"
#include "tests/testing/mpi_test_main.h"

namespace istar::regularizers {
namespace {

using ::istar::testing::Float64;
using ::istar::testing::SeededGenerator;
using ::istar::testing::TestGroup;
using ::testing::HasSubstr;

// Every rank holds the same global value; the group's objective is the sum of the ranks' losses.
// So each rank back-propagates its share, value / R, and the differentiable all-reduce sums the
// shares back: each rank's rows get exactly the whole batch's gradient. (The trainer's averaged
// gradient all-reduce divides by R in the same way; trainer/data_parallel.h.)
void BackwardShare(const at::Tensor& value) { (value / TestGroup().size()).backward(); }

// Largest |a - b| relative to the largest |b|.
double RelativeError(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
}

// The rows [begin, end) of a cloud of `rows` rows that this rank holds: uneven on purpose.
std::pair<int64_t, int64_t> MySlice(int64_t rows) {
  const int64_t split = rows * 2 / 5;  // rank 0 takes 40%, rank 1 the rest
  return TestGroup().rank() == 0 ? std::pair{int64_t{0}, split} : std::pair{split, rows};
}

class CollectivesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (TestGroup().size() != 2) GTEST_SKIP() << ::istar::testing::kNeedsTwoRanks;
    ranks_ = MakeCrossRankSum(TestGroup());
  }
  std::unique_ptr<CrossRankSum> ranks_;
};

TEST_F(CollectivesTest, AllReduceSumAddsBothRanksTensors) {
  const double r = TestGroup().rank();
  at::Tensor doubles = at::arange(5, Float64()) * (r + 1.0);
  at::Tensor floats = at::full({2, 3}, static_cast<float>(r + 0.5), at::kFloat);
  ASSERT_TRUE(AllReduceSum(TestGroup(), doubles).ok());
  ASSERT_TRUE(AllReduceSum(TestGroup(), floats).ok());
  EXPECT_TRUE(at::equal(doubles, at::arange(5, Float64()) * 3.0));
  EXPECT_TRUE(at::equal(floats, at::full({2, 3}, 2.0f, at::kFloat)));
}

TEST_F(CollectivesTest, AllReduceSumRejectsIntegersAndStridedTensors) {
  at::Tensor ints = at::ones({3}, at::kLong);
  EXPECT_THAT(AllReduceSum(TestGroup(), ints).message(), HasSubstr("float32 or float64"));
  at::Tensor strided = at::ones({4, 4}, Float64()).t().slice(0, 0, 2);
  EXPECT_THAT(AllReduceSum(TestGroup(), strided).message(), HasSubstr("contiguous"));
}

TEST_F(CollectivesTest, BroadcastCopiesRootOnesTensor) {
  at::Tensor ids = TestGroup().rank() == 1 ? at::arange(6, at::kLong) : at::zeros({6}, at::kLong);
  ASSERT_TRUE(Broadcast(TestGroup(), ids, /*root=*/1).ok());
  EXPECT_TRUE(at::equal(ids, at::arange(6, at::kLong)));
}

TEST_F(CollectivesTest, CrossRankSumBackwardSumsBothRanksGradients) {
  // y = x_0 + x_1; rank r's loss is (r + 1) * sum(y), so the group's objective gives each x the
  // gradient 1 + 2 = 3.
  const at::Tensor x = at::ones({4}, Float64()).requires_grad_();
  const at::Tensor y = ranks_->Sum(x);
  EXPECT_TRUE(at::equal(y.detach(), at::full({4}, 2.0, Float64())));
  (y.sum() * (TestGroup().rank() + 1.0)).backward();
  EXPECT_TRUE(at::equal(x.grad(), at::full({4}, 3.0, Float64())));
}

TEST_F(CollectivesTest, GlobalIsoScoreStarEqualsWholeBatchValueAndGradient) {
  at::Generator gen = SeededGenerator(41);
  // Outlier-like dimensions: large, different means and scales.
  const at::Tensor whole = at::randn({50, 6}, gen, Float64()) * at::arange(1, 7, Float64()) + 10.0;
  const at::Tensor s0 = at::cov(at::randn({200, 6}, gen, Float64()).t());
  const IsoScoreStarOptions whole_options{.zeta = 0.3, .shrinkage = s0};
  const at::Tensor whole_leaf = whole.clone().requires_grad_();
  const at::Tensor expected = *IsoScoreStar(whole_leaf, {}, whole_options);
  expected.backward();

  const auto [begin, end] = MySlice(50);
  const at::Tensor mine = whole.slice(0, begin, end).clone().requires_grad_();
  IsoScoreStarOptions options = whole_options;
  options.ranks = ranks_.get();
  absl::StatusOr<at::Tensor> value = IsoScoreStar(mine, {}, options);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_NEAR(value->item<double>(), expected.item<double>(), 1e-13);
  BackwardShare(*value);
  EXPECT_LE(RelativeError(mine.grad(), whole_leaf.grad().slice(0, begin, end)), 1e-10);
}

TEST_F(CollectivesTest, GlobalCosRegEqualsWholeBatchValueAndGradient) {
  at::Generator gen = SeededGenerator(42);
  const at::Tensor whole = at::randn({37, 5}, gen, Float64()) + 0.7;
  const at::Tensor whole_leaf = whole.clone().requires_grad_();
  const at::Tensor expected = *CosRegPenalty(whole_leaf, {});
  expected.backward();

  const auto [begin, end] = MySlice(37);
  const at::Tensor mine = whole.slice(0, begin, end).clone().requires_grad_();
  absl::StatusOr<at::Tensor> value = CosRegPenalty(mine, {}, *ranks_);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_NEAR(value->item<double>(), expected.item<double>(), 1e-14);
  BackwardShare(*value);
  EXPECT_LE(RelativeError(mine.grad(), whole_leaf.grad().slice(0, begin, end)), 1e-10);
}

TEST_F(CollectivesTest, RankIsTheCommunicatorsRank) {
  EXPECT_EQ(ranks_->rank(), TestGroup().rank());
  EXPECT_EQ(ranks_->world_size(), 2);
  EXPECT_EQ(LocalSum().rank(), 0);
}

// The regularizers from the literature: each rank holds an uneven slice of one cloud (40% / 60%,
// or whole sequences for the dispersion), and the value and each rank's gradient must be those of
// one process holding the whole cloud.

TEST_F(CollectivesTest, GlobalVicRegEqualsWholeBatchValueAndGradient) {
  at::Generator gen = SeededGenerator(45);
  const at::Tensor whole =
      at::randn({53, 7}, gen, Float64()) * at::linspace(0.3, 2.0, 7, Float64()) + 4.0;
  at::Tensor keep = at::rand({53}, gen, Float64()) > 0.2;  // some padding on both ranks
  const VicRegOptions options{.gamma = 1.1, .epsilon = 1e-3};
  const at::Tensor whole_leaf = whole.clone().requires_grad_();
  const at::Tensor expected = *VicRegPenalty(whole_leaf, keep, options);
  expected.backward();

  const auto [begin, end] = MySlice(53);
  const at::Tensor mine = whole.slice(0, begin, end).clone().requires_grad_();
  absl::StatusOr<at::Tensor> value =
      VicRegPenalty(mine, keep.slice(0, begin, end), options, *ranks_);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_NEAR(value->item<double>(), expected.item<double>(), 1e-12 * expected.item<double>());
  BackwardShare(*value);
  EXPECT_LE(RelativeError(mine.grad(), whole_leaf.grad().slice(0, begin, end)), 1e-10);
}

TEST_F(CollectivesTest, GlobalUniformityEqualsWholeBatchValueAndGradient) {
  at::Generator gen = SeededGenerator(46);
  const at::Tensor whole = at::randn({23, 6}, gen, Float64()) + 0.4;
  const at::Tensor whole_leaf = whole.clone().requires_grad_();
  const at::Tensor expected = *UniformityLoss(whole_leaf, 2.0);
  expected.backward();

  const auto [begin, end] = MySlice(23);  // 9 and 14 rows
  const at::Tensor mine = whole.slice(0, begin, end).clone().requires_grad_();
  absl::StatusOr<at::Tensor> value = UniformityLoss(mine, 2.0, *ranks_);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_NEAR(value->item<double>(), expected.item<double>(), 1e-12);
  BackwardShare(*value);
  EXPECT_LE(RelativeError(mine.grad(), whole_leaf.grad().slice(0, begin, end)), 1e-10);
}

TEST_F(CollectivesTest, GlobalUniformityWithOneRankEmptyAndTooFewVectorsOnBoth) {
  at::Generator gen = SeededGenerator(47);
  const at::Tensor whole = at::randn({5, 3}, gen, Float64());
  const at::Tensor whole_leaf = whole.clone().requires_grad_();
  const at::Tensor expected = *UniformityLoss(whole_leaf, 1.5);
  expected.backward();
  const at::Tensor mine =
      (TestGroup().rank() == 1 ? whole : whole.slice(0, 0, 0)).clone().requires_grad_();
  absl::StatusOr<at::Tensor> value = UniformityLoss(mine, 1.5, *ranks_);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_NEAR(value->item<double>(), expected.item<double>(), 1e-13);
  BackwardShare(*value);
  ASSERT_TRUE(mine.grad().defined());
  EXPECT_EQ(mine.grad().size(0), mine.size(0));
  if (TestGroup().rank() == 1) {
    EXPECT_LE(RelativeError(mine.grad(), whole_leaf.grad()), 1e-10);
  }
  // One vector in all (on rank 0): both ranks fail alike, after the gather.
  const at::Tensor lonely = TestGroup().rank() == 0 ? whole.slice(0, 0, 1) : whole.slice(0, 0, 0);
  const absl::StatusOr<at::Tensor> too_few = UniformityLoss(lonely, 2.0, *ranks_);
  EXPECT_EQ(too_few.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(too_few.status().message(), HasSubstr("at least 2 vectors"));
}

TEST_F(CollectivesTest, GlobalDispersionEqualsWholeBatchValueAndGradient) {
  // Seven sequences of 5, 1, 7, 3, 9, 2 and 6 rows (33 rows); rank 0 holds the first three (13
  // rows), rank 1 the other four (20 rows), each numbering its own sequences from 0.
  at::Generator gen = SeededGenerator(48);
  const std::vector<int64_t> lengths = {5, 1, 7, 3, 9, 2, 6};
  std::vector<int64_t> ids;
  for (size_t g = 0; g < lengths.size(); ++g) ids.insert(ids.end(), lengths[g], g);
  const at::Tensor whole_group = at::tensor(ids, at::kLong);
  const at::Tensor whole = at::randn({33, 5}, gen, Float64()) + 0.3;
  const at::Tensor whole_leaf = whole.clone().requires_grad_();
  const at::Tensor expected = *DispersionPenalty(whole_leaf, whole_group, 7);
  expected.backward();

  const bool first = TestGroup().rank() == 0;
  const int64_t begin = first ? 0 : 13;
  const int64_t end = first ? 13 : 33;
  const at::Tensor mine = whole.slice(0, begin, end).clone().requires_grad_();
  const at::Tensor my_group = whole_group.slice(0, begin, end) - (first ? 0 : 3);
  absl::StatusOr<at::Tensor> value = DispersionPenalty(mine, my_group, first ? 3 : 4, *ranks_);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_NEAR(value->item<double>(), expected.item<double>(), 1e-14);
  BackwardShare(*value);
  EXPECT_LE(RelativeError(mine.grad(), whole_leaf.grad().slice(0, begin, end)), 1e-10);
}

TEST_F(CollectivesTest, GlobalDispersionCountsSequencesOfEveryRank) {
  // Rank 0 holds only a one-row sequence: it contributes nothing, and still the group's value is
  // rank 1's mean over its sequences; with no pair anywhere, both ranks fail alike.
  at::Generator gen = SeededGenerator(49);
  const at::Tensor rows = at::randn({6, 3}, gen, Float64());
  const at::Tensor group = at::tensor({0, 0, 1, 1, 1, 0}, at::kLong);
  const double expected = DispersionPenalty(rows, group, 2)->item<double>();
  const bool first = TestGroup().rank() == 0;
  absl::StatusOr<at::Tensor> value =
      first ? DispersionPenalty(rows.slice(0, 0, 1), at::zeros({1}, at::kLong), 1, *ranks_)
            : DispersionPenalty(rows, group, 2, *ranks_);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_NEAR(value->item<double>(), expected, 1e-15);
  const absl::StatusOr<at::Tensor> none =
      DispersionPenalty(rows.slice(0, 0, 2), at::tensor({0, 1}, at::kLong), 2, *ranks_);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(none.status().message(), HasSubstr("2 or more rows"));
}

TEST_F(CollectivesTest, GlobalSigRegEqualsWholeBatchValueAndGradient) {
  at::Generator gen = SeededGenerator(50);
  const at::Tensor whole = at::randn({41, 6}, gen, Float64()) * 1.4 + 0.2;
  at::Tensor keep = at::rand({41}, gen, Float64()) > 0.25;
  const SigRegOptions options{.projections = 24, .knots = 17, .t_max = 5.0, .seed = 123};
  const at::Tensor whole_leaf = whole.clone().requires_grad_();
  const at::Tensor expected = *SigRegStatistic(whole_leaf, keep, options);
  expected.backward();

  const auto [begin, end] = MySlice(41);
  const at::Tensor mine = whole.slice(0, begin, end).clone().requires_grad_();
  absl::StatusOr<at::Tensor> value =
      SigRegStatistic(mine, keep.slice(0, begin, end), options, *ranks_);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_NEAR(value->item<double>(), expected.item<double>(), 1e-12 * expected.item<double>());
  BackwardShare(*value);
  EXPECT_LE(RelativeError(mine.grad(), whole_leaf.grad().slice(0, begin, end)), 1e-10);
}

TEST_F(CollectivesTest, RankWithNoRowsStillTakesPartForwardAndBackward) {
  // Rank 1 holds no rows (the tail of an epoch smaller than the group): it must still join both
  // collectives and both backward all-reduces, and everyone gets the value of rank 0's rows.
  at::Generator gen = SeededGenerator(43);
  const at::Tensor whole = at::randn({20, 4}, gen, Float64());
  const at::Tensor whole_leaf = whole.clone().requires_grad_();
  const at::Tensor expected = *IsoScoreStar(whole_leaf, {});
  expected.backward();
  const at::Tensor mine =
      (TestGroup().rank() == 0 ? whole : whole.slice(0, 0, 0)).clone().requires_grad_();
  absl::StatusOr<at::Tensor> value = IsoScoreStar(mine, {}, {.ranks = ranks_.get()});
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_NEAR(value->item<double>(), expected.item<double>(), 1e-13);
  BackwardShare(*value);
  ASSERT_TRUE(mine.grad().defined());
  EXPECT_EQ(mine.grad().size(0), mine.size(0));
  if (TestGroup().rank() == 0) {
    EXPECT_LE(RelativeError(mine.grad(), whole_leaf.grad()), 1e-10);
  }
}

TEST_F(CollectivesTest, AnalysisMeasuresAndShrinkageSpanBothRanks) {
  at::Generator gen = SeededGenerator(44);
  const at::Tensor whole = at::randn({60, 5}, gen, Float64()) * at::arange(1, 6, Float64()) - 2.0;
  const auto [begin, end] = MySlice(60);
  const at::Tensor mine = whole.slice(0, begin, end);
  EXPECT_NEAR(*IsoScore(mine, {}, *ranks_), *IsoScore(whole), 1e-13);
  EXPECT_NEAR(*AverageCosineSimilarity(mine, {}, *ranks_), *AverageCosineSimilarity(whole),
              1e-13);
  ShrinkageEstimator estimator(5);
  ASSERT_TRUE(estimator.Add(mine).ok());
  absl::StatusOr<at::Tensor> s0 = estimator.Finish(*ranks_);
  ASSERT_TRUE(s0.ok()) << s0.status();
  EXPECT_TRUE(at::allclose(*s0, at::cov(whole.t()), 0, 1e-12));
}

TEST_F(CollectivesTest, NonFiniteRowsOnOneRankFailEveryRankAlike) {
  // Validation runs on the reduced statistics, so both ranks return the same error and neither
  // is left waiting in a collective.
  at::Tensor mine = at::randn({10, 3}, Float64());
  if (TestGroup().rank() == 1) mine[4][1] = std::numeric_limits<double>::quiet_NaN();
  const absl::StatusOr<at::Tensor> value = IsoScoreStar(mine, {}, {.ranks = ranks_.get()});
  EXPECT_EQ(value.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(value.status().message(), HasSubstr("NaN or infinite"));
  const absl::StatusOr<at::Tensor> penalty = CosRegPenalty(mine, {}, *ranks_);
  EXPECT_EQ(penalty.status().code(), absl::StatusCode::kInvalidArgument);
  for (const absl::StatusOr<at::Tensor>& result :
       {VicRegPenalty(mine, {}, {}, *ranks_), UniformityLoss(mine, 2.0, *ranks_),
        DispersionPenalty(mine, at::zeros({10}, at::kLong), 1, *ranks_),
        SigRegStatistic(mine, {}, {.projections = 8}, *ranks_)}) {
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
    EXPECT_THAT(result.status().message(), HasSubstr("NaN or infinite"));
  }
}

}  // namespace
}  // namespace istar::regularizers

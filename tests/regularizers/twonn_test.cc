// The TwoNN intrinsic dimension: against a brute-force transcription of Facco et al.'s procedure,
// and on manifolds of known dimension.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "regularizers/isotropy.h"
#include "tests/reference/scikit_dimension.h"
#include "tests/regularizers/test_util.h"

namespace istar::regularizers {
namespace {

using ::istar::testing::Float64;
using ::istar::testing::RandomRotation;
using ::istar::testing::SeededGenerator;

// scikit-dimension's TwoNN on a [N, d] float64 tensor with no duplicated rows
// (tests/reference/scikit_dimension.h).
double BruteForceTwoNN(const at::Tensor& points, double discard = 0.1) {
  const auto x = points.accessor<double, 2>();
  std::vector<std::vector<double>> rows(points.size(0), std::vector<double>(points.size(1)));
  for (int64_t i = 0; i < points.size(0); ++i) {
    for (int64_t k = 0; k < points.size(1); ++k) rows[i][k] = x[i][k];
  }
  return reference::ScikitDimensionTwoNN(rows, discard);
}

// N points uniform in [0, 1]^k, placed in R^d by a random rotation.
at::Tensor UniformOnSubspace(int64_t n, int64_t k, int64_t d, at::Generator& gen) {
  const at::Tensor cube =
      at::cat({at::rand({n, k}, gen, Float64()), at::zeros({n, d - k}, Float64())}, 1);
  return cube.mm(RandomRotation(d, gen)) + 5.0;
}

TEST(TwoNNIntrinsicDimension, EqualsBruteForceFaccoProcedure) {
  at::Generator gen = SeededGenerator(40);
  const at::Tensor points = at::randn({300, 7}, gen, Float64());
  // A small block size so that the blocked distance computation crosses block edges.
  absl::StatusOr<double> estimate = TwoNNIntrinsicDimension(points, {}, {.block_rows = 64});
  ASSERT_TRUE(estimate.ok()) << estimate.status();
  EXPECT_NEAR(*estimate, BruteForceTwoNN(points), 1e-9);
}

// scikit-dimension's convention (F_emp(i) = i / N over the kept smallest ratios) on point sets
// of several shapes and discard fractions: a 2-D plane in 10-D, a 5-D Gaussian, and a curved
// 1-D helix in 3-D. Continuous random coordinates make ties in the neighbour order improbable.
TEST(TwoNNIntrinsicDimension, FollowsScikitDimensionsConvention) {
  at::Generator gen = SeededGenerator(43);
  const at::Tensor plane = UniformOnSubspace(250, 2, 10, gen);
  const at::Tensor gaussian = at::randn({180, 5}, gen, Float64());
  const at::Tensor t = 12.0 * at::rand({120}, gen, Float64());
  const at::Tensor helix = at::stack({at::cos(t), at::sin(t), 0.3 * t}, 1);
  for (const at::Tensor* points : {&plane, &gaussian, &helix}) {
    for (double discard : {0.1, 0.0, 0.25}) {
      absl::StatusOr<double> estimate =
          TwoNNIntrinsicDimension(*points, {}, {.discard_fraction = discard, .block_rows = 50});
      ASSERT_TRUE(estimate.ok()) << estimate.status();
      EXPECT_NEAR(*estimate, BruteForceTwoNN(*points, discard), 1e-9)
          << points->size(0) << " x " << points->size(1) << ", discard " << discard;
    }
  }
}

// Four points on a line at 0, 1, 3 and 7: (r1, r2) = (1, 3), (1, 2), (2, 3), (4, 6), so
// mu = (3, 2, 1.5, 1.5), sorted (1.5, 1.5, 2, 3). With discard 0.25, kept = 3 and
// F = (0, 1/4, 2/4): the slope is (log 1.5 log(4/3) + log^2 2) / (2 log^2 1.5 + log^2 2).
TEST(TwoNNIntrinsicDimension, MatchesAHandComputedLine) {
  const at::Tensor points = at::tensor({0.0, 1.0, 3.0, 7.0}, Float64()).reshape({4, 1});
  const at::Tensor embedded = at::cat({points, at::zeros({4, 1}, Float64())}, 1);
  const double l2 = std::log(2.0);
  const double l15 = std::log(1.5);
  const double expected = (l15 * std::log(4.0 / 3.0) + l2 * l2) / (2 * l15 * l15 + l2 * l2);
  absl::StatusOr<double> estimate =
      TwoNNIntrinsicDimension(embedded, {}, {.discard_fraction = 0.25});
  ASSERT_TRUE(estimate.ok()) << estimate.status();
  EXPECT_NEAR(*estimate, expected, 1e-12);
}

TEST(TwoNNIntrinsicDimension, RecoversDimensionOfUniformSubspace) {
  at::Generator gen = SeededGenerator(41);
  for (int64_t k : {1, 2, 5}) {
    absl::StatusOr<double> estimate = TwoNNIntrinsicDimension(UniformOnSubspace(4000, k, 20, gen));
    ASSERT_TRUE(estimate.ok()) << estimate.status();
    EXPECT_NEAR(*estimate, static_cast<double>(k), 0.1 * k) << "k = " << k;
  }
}

TEST(TwoNNIntrinsicDimension, IgnoresDuplicatesAndMaskedRows) {
  at::Generator gen = SeededGenerator(42);
  const at::Tensor points = at::randn({200, 4}, gen, Float64());
  const double base = *TwoNNIntrinsicDimension(points);
  // Masked rows (far away) change nothing.
  const at::Tensor padded = at::cat({points, 1e3 * at::randn({20, 4}, gen, Float64())});
  at::Tensor keep = at::ones({220}, at::TensorOptions().dtype(at::kBool));
  keep.slice(0, 200).fill_(false);
  EXPECT_NEAR(*TwoNNIntrinsicDimension(padded, keep), base, 1e-12);
  // A duplicated point has its nearest neighbour at distance 0 and is left out.
  const at::Tensor duplicated = at::cat({points, points.slice(0, 0, 1)});
  absl::StatusOr<double> with_duplicate = TwoNNIntrinsicDimension(duplicated);
  ASSERT_TRUE(with_duplicate.ok()) << with_duplicate.status();
  EXPECT_TRUE(std::isfinite(*with_duplicate));
}

TEST(TwoNNIntrinsicDimension, RejectsBadInputs) {
  EXPECT_EQ(TwoNNIntrinsicDimension(at::randn({2, 3}, Float64())).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TwoNNIntrinsicDimension(at::randn({20, 3}, Float64()), {}, {.discard_fraction = 1.0})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  at::Tensor inf = at::randn({20, 3}, Float64());
  inf[4][0] = std::numeric_limits<double>::infinity();
  EXPECT_EQ(TwoNNIntrinsicDimension(inf).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace istar::regularizers

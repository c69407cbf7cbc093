// The TwoNN intrinsic dimension: against a brute-force transcription of Facco et al.'s procedure,
// and on manifolds of known dimension.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "regularizers/isotropy.h"
#include "tests/regularizers/test_util.h"

namespace istar::regularizers {
namespace {

using ::istar::testing::Float64;
using ::istar::testing::RandomRotation;
using ::istar::testing::SeededGenerator;

// Facco et al. step by step with plain loops: all pairwise distances, the two nearest neighbours,
// mu = r2 / r1, the empirical CDF i / N, the least-squares slope through the origin on the
// smallest 90% of mu.
double BruteForceTwoNN(const at::Tensor& points) {
  const auto x = points.accessor<double, 2>();
  const int64_t n = points.size(0);
  std::vector<double> mu;
  for (int64_t i = 0; i < n; ++i) {
    double r1 = std::numeric_limits<double>::infinity();
    double r2 = r1;
    for (int64_t j = 0; j < n; ++j) {
      if (j == i) continue;
      double sq = 0;
      for (int64_t k = 0; k < points.size(1); ++k) sq += (x[i][k] - x[j][k]) * (x[i][k] - x[j][k]);
      const double r = std::sqrt(sq);
      if (r < r1) {
        r2 = r1;
        r1 = r;
      } else if (r < r2) {
        r2 = r;
      }
    }
    mu.push_back(r2 / r1);
  }
  std::sort(mu.begin(), mu.end());
  double xy = 0;
  double xx = 0;
  for (int64_t i = 0; i < static_cast<int64_t>(std::floor(n * 0.9)); ++i) {
    const double lx = std::log(mu[i]);
    xy += lx * -std::log(1.0 - (i + 1.0) / n);
    xx += lx * lx;
  }
  return xy / xx;
}

// N points uniform in [0, 1]^k, placed in R^d by a random rotation.
at::Tensor UniformOnSubspace(int64_t n, int64_t k, int64_t d, at::Generator& gen) {
  const at::Tensor cube = at::cat({at::rand({n, k}, gen, Float64()), at::zeros({n, d - k}, Float64())}, 1);
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

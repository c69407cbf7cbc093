// The dispersion penalty against an explicit loop of cosines per sequence, a hand-computed case,
// central differences and errors.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <vector>

#include "regularizers/isotropy.h"
#include "tests/regularizers/test_util.h"

namespace istar::regularizers {
namespace {

using ::istar::testing::ExpectGradientMatchesFiniteDifferences;
using ::istar::testing::Float64;
using ::istar::testing::SeededGenerator;
using ::testing::HasSubstr;

// For each sequence with at least 2 rows, the mean of cos(x_i, x_j) = x_i . x_j /
// (max(||x_i||, 1e-12) max(||x_j||, 1e-12)) over its ordered pairs i != j, in an O(n^2) loop;
// then the mean over those sequences.
double CosineLoopDispersion(const at::Tensor& points, const at::Tensor& group) {
  const at::Tensor cpu = points.detach().to(at::kCPU, at::kDouble).contiguous();
  const auto a = cpu.accessor<double, 2>();
  const at::Tensor ids = group.to(at::kCPU).contiguous();
  const auto id = ids.accessor<int64_t, 1>();
  const int64_t d = cpu.size(1);
  std::map<int64_t, std::vector<int64_t>> members;
  for (int64_t i = 0; i < cpu.size(0); ++i) members[id[i]].push_back(i);
  const auto norm = [&](int64_t i) {
    double s = 0.0;
    for (int64_t k = 0; k < d; ++k) s += a[i][k] * a[i][k];
    return std::max(std::sqrt(s), 1e-12);
  };
  double total = 0.0;
  int sequences = 0;
  for (const auto& [g, rows] : members) {
    const size_t n = rows.size();
    if (n < 2) continue;
    double sum = 0.0;
    for (size_t p = 0; p < n; ++p) {
      for (size_t q = 0; q < n; ++q) {
        if (p == q) continue;
        double dot = 0.0;
        for (int64_t k = 0; k < d; ++k) dot += a[rows[p]][k] * a[rows[q]][k];
        sum += dot / (norm(rows[p]) * norm(rows[q]));
      }
    }
    total += sum / static_cast<double>(n * (n - 1));
    ++sequences;
  }
  return total / sequences;
}

double Value(const at::Tensor& points, const at::Tensor& group, int64_t groups) {
  absl::StatusOr<at::Tensor> value = DispersionPenalty(points, group, groups);
  EXPECT_TRUE(value.ok()) << value.status();
  return value.ok() ? value->item<double>() : std::numeric_limits<double>::quiet_NaN();
}

TEST(DispersionPenalty, HandComputedSequences) {
  // Sequence 0: (1, 0), (0, 2), (3, 3): cosines 0, 1/sqrt(2), 1/sqrt(2), mean sqrt(2)/3.
  // Sequence 1: (1, 1), (-2, -2): cosine -1. Sequence 2: one row, left out. G = 2.
  const at::Tensor points =
      at::tensor({1.0, 0.0, 1.0, 1.0, 0.0, 2.0, 5.0, -7.0, 3.0, 3.0, -2.0, -2.0}, Float64())
          .reshape({6, 2});
  const at::Tensor group = at::tensor({0, 1, 0, 2, 0, 1}, at::kLong);
  EXPECT_NEAR(Value(points, group, 3), (std::sqrt(2.0) / 3.0 - 1.0) / 2.0, 1e-15);
  // One sequence alone.
  EXPECT_NEAR(Value(points, at::tensor({0, 1, 0, 2, 0, 3}, at::kLong), 4), std::sqrt(2.0) / 3.0,
              1e-15);
}

TEST(DispersionPenalty, EqualsCosineLoopPerSequence) {
  at::Generator gen = SeededGenerator(300);
  for (int64_t groups : {1, 2, 7, 40}) {
    for (int64_t d : {2, 16, 65}) {
      const int64_t n = 3 * groups + 5;
      const at::Tensor points = at::randn({n, d}, gen, Float64()) + 0.4;
      // Interleaved ids: sequences need not be contiguous; some get 0 or 1 rows.
      at::Tensor group = at::randint(groups, {n}, gen, at::kLong);
      group.slice(0, 0, 2).fill_(0);  // at least one sequence of 2 rows
      EXPECT_NEAR(Value(points, group, groups + 3), CosineLoopDispersion(points, group), 1e-13)
          << "groups = " << groups << ", d = " << d;
    }
  }
}

TEST(DispersionPenalty, ZeroRowsCountAsCosineZero) {
  // A zero row's "unit vector" is 0: its cosines are 0, and it still counts in n_g (n_g - 1).
  // (Note [Self terms of a unit-vector sum]: writing the self terms as n_g would be off by one.)
  at::Tensor points = at::randn({5, 3}, Float64());
  points[1].zero_();
  const at::Tensor group = at::tensor({0, 0, 0, 1, 1}, at::kLong);
  EXPECT_NEAR(Value(points, group, 2), CosineLoopDispersion(points, group), 1e-14);
}

TEST(DispersionPenalty, GradientMatchesCentralDifferences) {
  at::Generator gen = SeededGenerator(301);
  const at::Tensor points = at::randn({20, 6}, gen, Float64()) + 0.2;
  const at::Tensor group = at::arange(20, at::kLong).remainder(4);
  ExpectGradientMatchesFiniteDifferences(
      [&](const at::Tensor& x) { return *DispersionPenalty(x, group, 4); }, points, 12, gen);
}

TEST(DispersionPenalty, SingletonSequencesGetNoGradient) {
  at::Generator gen = SeededGenerator(302);
  const at::Tensor points = at::randn({6, 4}, gen, Float64()).requires_grad_();
  const at::Tensor group = at::tensor({0, 0, 1, 2, 2, 3}, at::kLong);
  absl::StatusOr<at::Tensor> value = DispersionPenalty(points, group, 4);
  ASSERT_TRUE(value.ok()) << value.status();
  value->backward();
  EXPECT_EQ(points.grad()[2].abs().max().item<double>(), 0.0);
  EXPECT_EQ(points.grad()[5].abs().max().item<double>(), 0.0);
  EXPECT_GT(points.grad()[0].abs().max().item<double>(), 0.0);
}

TEST(DispersionPenalty, Float32GivesFloat32) {
  at::Generator gen = SeededGenerator(303);
  const at::Tensor points = at::randn({200, 32}, gen, Float64()) + 0.5;
  const at::Tensor group = at::arange(200, at::kLong).floor_divide(10);
  absl::StatusOr<at::Tensor> single = DispersionPenalty(points.to(at::kFloat), group, 20);
  ASSERT_TRUE(single.ok()) << single.status();
  EXPECT_EQ(single->scalar_type(), at::kFloat);
  EXPECT_EQ(single->dim(), 0);
  EXPECT_NEAR(single->item<double>(), CosineLoopDispersion(points, group), 1e-5);
}

TEST(DispersionPenalty, RejectsMalformedInputs) {
  const auto message = [](const absl::StatusOr<at::Tensor>& r) {
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
    return std::string(r.status().message());
  };
  const at::Tensor points = at::randn({4, 3}, Float64());
  const at::Tensor group = at::tensor({0, 0, 1, 1}, at::kLong);
  EXPECT_THAT(message(DispersionPenalty(at::randn({4}, Float64()), group, 2)),
              HasSubstr("dispersion: points must be a 2-D tensor"));
  EXPECT_THAT(message(DispersionPenalty(at::randn({4, 1}, Float64()), group, 2)),
              HasSubstr("at least 2 dimensions"));
  EXPECT_THAT(message(DispersionPenalty(points, group.to(at::kInt), 2)),
              HasSubstr("group must be an int64 tensor of shape [4]"));
  EXPECT_THAT(message(DispersionPenalty(points, group.slice(0, 0, 3), 2)),
              HasSubstr("group must be an int64 tensor of shape [4]"));
  EXPECT_THAT(message(DispersionPenalty(points, {}, 2)), HasSubstr("undefined"));
  EXPECT_THAT(message(DispersionPenalty(points, group, 1)),
              HasSubstr("group ids must be in [0, groups) = [0, 1), got ids from 0 to 1"));
  EXPECT_THAT(message(DispersionPenalty(points, at::tensor({0, -1, 1, 1}, at::kLong), 2)),
              HasSubstr("group ids must be in"));
  EXPECT_THAT(message(DispersionPenalty(points, group, -1)), HasSubstr("groups must be >= 0"));
  EXPECT_THAT(message(DispersionPenalty(points, at::arange(4, at::kLong), 4)),
              HasSubstr("at least one sequence with 2 or more rows"));
  at::Tensor nan = points.clone();
  nan[3][2] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THAT(message(DispersionPenalty(nan, group, 2)), HasSubstr("NaN or infinite"));
}

}  // namespace
}  // namespace istar::regularizers

// VICReg's variance and covariance terms: against the paper's eqs. 1-4 written out with loops, a
// hand-computed case, central differences, masks and errors.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "regularizers/isotropy.h"
#include "tests/regularizers/test_util.h"

namespace istar::regularizers {
namespace {

using ::istar::testing::ExpectGradientMatchesFiniteDifferences;
using ::istar::testing::Float64;
using ::istar::testing::SeededGenerator;
using ::testing::HasSubstr;

// The textbook form, from the paper's equations, in plain loops: the per-dimension variance
// Var(z_j) = sum_i (z_ij - mean_j)^2 / (n - 1) (eq. 2's S = sqrt(Var + epsilon)), the hinge of
// eq. 1, the covariance matrix of eq. 3 and the off-diagonal sum of eq. 4.
double TextbookVicReg(const at::Tensor& z, double gamma, double epsilon) {
  const at::Tensor cpu = z.detach().to(at::kCPU, at::kDouble).contiguous();
  const auto a = cpu.accessor<double, 2>();
  const int64_t n = cpu.size(0);
  const int64_t d = cpu.size(1);
  std::vector<double> mean(d, 0.0);
  for (int64_t j = 0; j < d; ++j) {
    for (int64_t i = 0; i < n; ++i) mean[j] += a[i][j];
    mean[j] /= static_cast<double>(n);
  }
  double variance_term = 0.0;
  for (int64_t j = 0; j < d; ++j) {
    double variance = 0.0;
    for (int64_t i = 0; i < n; ++i) variance += (a[i][j] - mean[j]) * (a[i][j] - mean[j]);
    variance /= static_cast<double>(n - 1);
    variance_term += std::max(0.0, gamma - std::sqrt(variance + epsilon));
  }
  variance_term /= static_cast<double>(d);
  std::vector<std::vector<double>> cov(d, std::vector<double>(d, 0.0));
  for (int64_t p = 0; p < d; ++p) {
    for (int64_t q = 0; q < d; ++q) {
      for (int64_t i = 0; i < n; ++i) cov[p][q] += (a[i][p] - mean[p]) * (a[i][q] - mean[q]);
      cov[p][q] /= static_cast<double>(n - 1);
    }
  }
  double covariance_term = 0.0;
  for (int64_t p = 0; p < d; ++p) {
    for (int64_t q = 0; q < d; ++q) {
      if (p != q) covariance_term += cov[p][q] * cov[p][q];
    }
  }
  return variance_term + covariance_term / static_cast<double>(d);
}

// Points whose dimensions have standard deviations from 0.2 to 2.5 (so the hinge is active on
// some and not on others), correlated by a random mixing and far from the origin.
at::Tensor Cloud(int64_t n, int64_t d, at::Generator& gen) {
  const at::Tensor scales = at::linspace(0.2, 2.5, d, Float64());
  const at::Tensor mixing = at::eye(d, Float64()) + 0.3 * at::randn({d, d}, gen, Float64());
  return (at::randn({n, d}, gen, Float64()) * scales).mm(mixing) + 5.0;
}

double Value(const at::Tensor& points, const at::Tensor& keep = {},
             const VicRegOptions& options = {}) {
  absl::StatusOr<at::Tensor> value = VicRegPenalty(points, keep, options);
  EXPECT_TRUE(value.ok()) << value.status();
  return value.ok() ? value->item<double>() : std::numeric_limits<double>::quiet_NaN();
}

TEST(VicRegPenalty, EqualsTextbookLoopsOverShapesAndOptions) {
  at::Generator gen = SeededGenerator(100);
  for (const auto& [n, d] :
       std::vector<std::pair<int64_t, int64_t>>{{2, 2}, {3, 5}, {17, 4}, {64, 16}, {300, 33}}) {
    const at::Tensor points = Cloud(n, d, gen);
    for (const VicRegOptions options :
         {VicRegOptions{}, VicRegOptions{.gamma = 0.5, .epsilon = 1e-2},
          VicRegOptions{.gamma = 3.0, .epsilon = 1e-6}, VicRegOptions{.gamma = 0.0}}) {
      const double expected = TextbookVicReg(points, options.gamma, options.epsilon);
      EXPECT_NEAR(Value(points, {}, options), expected, 1e-12 * std::max(1.0, expected))
          << "n = " << n << ", d = " << d << ", gamma = " << options.gamma;
    }
  }
}

TEST(VicRegPenalty, HandComputedThreePoints) {
  // z = (0, 0), (1, 2), (2, 1): mean (1, 1), both variances (1 + 0 + 1) / 2 = 1 and
  // (1 + 1 + 0) / 2 = 1, covariance ((-1)(-1) + 0 * 1 + 1 * 0) / 2 = 1/2.
  // c = (1/2) * 2 * (1/2)^2 = 1/4. With gamma = 1 the hinge is 0 (sqrt(1 + eps) > 1); with
  // gamma = 2 it is (1/2) * 2 * (2 - sqrt(1 + eps)).
  const at::Tensor z = at::tensor({0.0, 0.0, 1.0, 2.0, 2.0, 1.0}, Float64()).reshape({3, 2});
  EXPECT_NEAR(Value(z), 0.25, 1e-15);
  EXPECT_NEAR(Value(z, {}, {.gamma = 2.0}), 0.25 + 2.0 - std::sqrt(1.0001), 1e-15);
  // Rows far from the origin: the same (the covariance is centred).
  EXPECT_NEAR(Value(z + 1e4, {}, {.gamma = 2.0}), 0.25 + 2.0 - std::sqrt(1.0001), 1e-10);
}

TEST(VicRegPenalty, GradientMatchesCentralDifferences) {
  at::Generator gen = SeededGenerator(101);
  const at::Tensor points = Cloud(40, 6, gen);
  ExpectGradientMatchesFiniteDifferences(
      [](const at::Tensor& x) { return *VicRegPenalty(x, {}, {.gamma = 1.2}); }, points, 12, gen);
}

TEST(VicRegPenalty, MaskedRowsHaveNoEffectAndNoGradient) {
  at::Generator gen = SeededGenerator(102);
  const at::Tensor real = Cloud(30, 5, gen);
  const at::Tensor padded =
      at::cat({real.slice(0, 0, 10), at::randn({4, 5}, gen, Float64()) * 50, real.slice(0, 10)})
          .requires_grad_();
  at::Tensor keep = at::ones({34}, at::kBool);
  keep.slice(0, 10, 14).fill_(false);
  absl::StatusOr<at::Tensor> masked = VicRegPenalty(padded, keep);
  ASSERT_TRUE(masked.ok()) << masked.status();
  EXPECT_NEAR(masked->item<double>(), TextbookVicReg(real, 1.0, 1e-4), 1e-12);
  masked->backward();
  EXPECT_EQ(padded.grad().slice(0, 10, 14).abs().max().item<double>(), 0.0);
  EXPECT_GT(padded.grad().slice(0, 0, 10).abs().max().item<double>(), 0.0);
}

TEST(VicRegPenalty, Float32GivesFloat32CloseToFloat64) {
  at::Generator gen = SeededGenerator(103);
  const at::Tensor points = Cloud(500, 12, gen);
  absl::StatusOr<at::Tensor> single = VicRegPenalty(points.to(at::kFloat), {});
  ASSERT_TRUE(single.ok()) << single.status();
  EXPECT_EQ(single->scalar_type(), at::kFloat);
  EXPECT_EQ(single->dim(), 0);
  const double expected = TextbookVicReg(points, 1.0, 1e-4);
  EXPECT_NEAR(single->item<double>(), expected, 1e-4 * expected);
}

TEST(VicRegPenalty, RejectsMalformedInputsAndOptions) {
  const at::Tensor good = at::randn({5, 3}, Float64());
  const auto message = [](const absl::StatusOr<at::Tensor>& r) {
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
    return std::string(r.status().message());
  };
  EXPECT_THAT(message(VicRegPenalty(at::randn({5}, Float64()), {})),
              HasSubstr("VICReg: points must be a 2-D tensor"));
  EXPECT_THAT(message(VicRegPenalty(at::randn({5, 1}, Float64()), {})),
              HasSubstr("at least 2 dimensions"));
  EXPECT_THAT(message(VicRegPenalty(at::randn({1, 3}, Float64()), {})),
              HasSubstr("at least 2 points"));
  at::Tensor keep = at::zeros({5}, at::kBool);
  keep[2] = true;
  EXPECT_THAT(message(VicRegPenalty(good, keep)), HasSubstr("at least 2 points"));
  EXPECT_THAT(message(VicRegPenalty(good, at::ones({4}, at::kBool))), HasSubstr("keep"));
  at::Tensor nan = good.clone();
  nan[3][1] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THAT(message(VicRegPenalty(nan, {})), HasSubstr("NaN or infinite"));
  at::Tensor inf = good.clone();
  inf[0][0] = std::numeric_limits<double>::infinity();
  EXPECT_THAT(message(VicRegPenalty(inf, {})), HasSubstr("NaN or infinite"));
  EXPECT_THAT(message(VicRegPenalty(good, {}, {.gamma = -1.0})), HasSubstr("options.gamma"));
  EXPECT_THAT(message(VicRegPenalty(good, {}, {.gamma = std::nan("")})),
              HasSubstr("options.gamma"));
  EXPECT_THAT(message(VicRegPenalty(good, {}, {.epsilon = 0.0})), HasSubstr("options.epsilon"));
  EXPECT_THAT(message(VicRegPenalty(good, {}, {.epsilon = INFINITY})),
              HasSubstr("options.epsilon"));
}

}  // namespace
}  // namespace istar::regularizers

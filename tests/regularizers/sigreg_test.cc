// SIGReg against a per-direction loop over the empirical characteristic function in
// std::complex with the trapezoid weights written out, a hand-computed case, its behaviour on
// Gaussian and non-Gaussian clouds, central differences, masks and errors.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
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

// For every direction a (a column of SigRegDirections): y_i = sum_j a_j x_ij; on the knots
// t_k = -t_max + k h, h = 2 t_max / (K - 1), phi(t_k) = (1/N) sum_i exp(i t_k y_i) as
// std::complex; f_k = |phi(t_k) - exp(-t_k^2/2)|^2 exp(-t_k^2/2); the trapezoid rule
// h (f_0/2 + f_1 + ... + f_{K-2} + f_{K-1}/2), times N; then the mean over directions.
double LoopSigReg(const at::Tensor& points, const SigRegOptions& options) {
  const at::Tensor cpu = points.detach().to(at::kCPU, at::kDouble).contiguous();
  const auto x = cpu.accessor<double, 2>();
  const int64_t n = cpu.size(0);
  const int64_t d = cpu.size(1);
  const at::Tensor directions = SigRegDirections(d, options).contiguous();
  const auto a = directions.accessor<double, 2>();
  const int64_t knots = options.knots;
  const double h = 2.0 * options.t_max / static_cast<double>(knots - 1);
  double total = 0.0;
  for (int64_t m = 0; m < options.projections; ++m) {
    std::vector<double> y(n, 0.0);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < d; ++j) y[i] += a[j][m] * x[i][j];
    }
    double integral = 0.0;
    for (int64_t k = 0; k < knots; ++k) {
      const double t = -options.t_max + static_cast<double>(k) * h;
      std::complex<double> phi = 0.0;
      for (int64_t i = 0; i < n; ++i) phi += std::exp(std::complex<double>(0.0, t * y[i]));
      phi /= static_cast<double>(n);
      const double gauss = std::exp(-t * t / 2.0);
      const double f = std::norm(phi - gauss) * gauss;  // std::norm: the squared modulus
      integral += (k == 0 || k == knots - 1) ? f * h / 2.0 : f * h;
    }
    total += static_cast<double>(n) * integral;
  }
  return total / static_cast<double>(options.projections);
}

double Value(const at::Tensor& points, const at::Tensor& keep, const SigRegOptions& options) {
  absl::StatusOr<at::Tensor> value = SigRegStatistic(points, keep, options);
  EXPECT_TRUE(value.ok()) << value.status();
  return value.ok() ? value->item<double>() : std::numeric_limits<double>::quiet_NaN();
}

TEST(SigRegDirections, UnitColumnsDeterminedBySeed) {
  const at::Tensor a = SigRegDirections(7, {.projections = 33, .seed = 5});
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{7, 33}));
  EXPECT_EQ(a.scalar_type(), at::kDouble);
  EXPECT_TRUE(a.device().is_cpu());
  EXPECT_TRUE(at::allclose(a.norm(2, {0}), at::ones({33}, Float64()), 0, 1e-15));
  EXPECT_TRUE(at::equal(a, SigRegDirections(7, {.projections = 33, .seed = 5})));
  EXPECT_FALSE(at::allclose(a, SigRegDirections(7, {.projections = 33, .seed = 6})));
  // Directions spread over the sphere: their mean is near 0 (|mean| ~ 1/sqrt(M) per entry).
  EXPECT_LT(SigRegDirections(3, {.projections = 4000}).mean(1).abs().max().item<double>(), 0.05);
}

TEST(SigRegStatistic, EqualsComplexLoopPerDirection) {
  at::Generator gen = SeededGenerator(400);
  const std::vector<SigRegOptions> option_sets = {
      {},
      {.projections = 1, .knots = 2, .t_max = 1.0, .seed = 3},
      {.projections = 7, .knots = 33, .t_max = 3.0, .seed = 11},
      {.projections = 16, .knots = 4, .t_max = 7.5, .seed = 12}};
  for (const auto& [n, d] :
       std::vector<std::pair<int64_t, int64_t>>{{2, 2}, {5, 3}, {64, 8}, {300, 20}}) {
    const at::Tensor points = at::randn({n, d}, gen, Float64()) * 1.3 + 0.2;
    for (const SigRegOptions& options : option_sets) {
      const double expected = LoopSigReg(points, options);
      EXPECT_NEAR(Value(points, {}, options), expected, 1e-11 * std::max(1.0, expected))
          << "n = " << n << ", d = " << d << ", projections = " << options.projections
          << ", knots = " << options.knots;
    }
  }
}

TEST(SigRegStatistic, HandComputedCloudAtTheOrigin) {
  // Every projection of a point at the origin is 0, whatever the directions: phi_N = 1. With
  // knots -1, 0, 1 (h = 1): f(0) = 0, f(+-1) = (1 - e^{-1/2})^2 e^{-1/2}; the trapezoid rule
  // gives (f(-1) + f(1)) / 2 = f(1), times N = 4.
  const double g = std::exp(-0.5);
  EXPECT_NEAR(Value(at::zeros({4, 3}, Float64()), {}, {.knots = 3, .t_max = 1.0}),
              4.0 * (1.0 - g) * (1.0 - g) * g, 1e-15);
}

TEST(SigRegStatistic, SmallForGaussianLargeForOtherClouds) {
  // Under N(0, I) each T_m has mean integral (1 - e^{-t^2}) e^{-t^2/2} dt = sqrt(2 pi) -
  // sqrt(2 pi / 3) ~ 1.06, whatever N; away from N(0, I) it grows like N.
  at::Generator gen = SeededGenerator(401);
  const at::Tensor gaussian = at::randn({4000, 16}, gen, Float64());
  const double null_value = Value(gaussian, {}, {});
  EXPECT_GT(null_value, 0.3);
  EXPECT_LT(null_value, 3.0);
  EXPECT_GT(Value(gaussian * 2.0, {}, {}), 100.0);  // too wide
  EXPECT_GT(Value(gaussian + 1.0, {}, {}), 100.0);  // off centre
  EXPECT_GT(
      Value(gaussian * at::cat({at::ones({4}, Float64()), at::zeros({12}, Float64())}), {}, {}),
      100.0);  // collapsed onto a quarter of the dimensions
}

TEST(SigRegStatistic, GradientMatchesCentralDifferences) {
  at::Generator gen = SeededGenerator(402);
  const at::Tensor points = at::randn({30, 5}, gen, Float64()) * 1.5;
  const SigRegOptions options{.projections = 9, .knots = 17, .t_max = 5.0, .seed = 4};
  ExpectGradientMatchesFiniteDifferences(
      [&](const at::Tensor& x) { return *SigRegStatistic(x, {}, options); }, points, 12, gen);
}

TEST(SigRegStatistic, ChunkedRowsGiveTheSameValueAndGradient) {
  // 4M phases per chunk: 40 directions x 33 knots = 1320 per row, so 9000 rows take three
  // chunks in both passes.
  at::Generator gen = SeededGenerator(403);
  const at::Tensor points = (at::randn({9000, 4}, gen, Float64()) * 0.8).requires_grad_();
  const SigRegOptions options{.projections = 40, .knots = 33, .seed = 8};
  absl::StatusOr<at::Tensor> value = SigRegStatistic(points, {}, options);
  ASSERT_TRUE(value.ok()) << value.status();
  value->backward();
  // The same computation by autograd on the whole N x M x K tensor at once.
  const at::Tensor leaf = points.detach().clone().requires_grad_();
  const at::Tensor y = leaf.mm(SigRegDirections(4, options));
  const at::Tensor t = at::linspace(-5.0, 5.0, 33, Float64());
  const at::Tensor phases = y.unsqueeze(2) * t;
  const at::Tensor gauss = at::exp(-0.5 * t * t);
  const at::Tensor error = (phases.cos().mean(0) - gauss).square() + phases.sin().mean(0).square();
  at::Tensor weights = at::full({33}, 10.0 / 32.0, Float64());
  weights[0] = weights[32] = 5.0 / 32.0;
  const at::Tensor expected = (9000.0 * error.mv(weights * gauss)).mean();
  expected.backward();
  EXPECT_NEAR(value->item<double>(), expected.item<double>(), 1e-9 * expected.item<double>());
  EXPECT_LE((points.grad() - leaf.grad()).abs().max().item<double>(),
            1e-9 * leaf.grad().abs().max().item<double>());
}

TEST(SigRegStatistic, MaskedRowsHaveNoEffectAndNoGradient) {
  at::Generator gen = SeededGenerator(404);
  const at::Tensor real = at::randn({25, 4}, gen, Float64());
  const at::Tensor padded =
      at::cat({real, at::randn({6, 4}, gen, Float64()) * 10.0}).requires_grad_();
  at::Tensor keep = at::ones({31}, at::kBool);
  keep.slice(0, 25).fill_(false);
  const SigRegOptions options{.projections = 12, .seed = 2};
  absl::StatusOr<at::Tensor> masked = SigRegStatistic(padded, keep, options);
  ASSERT_TRUE(masked.ok()) << masked.status();
  EXPECT_NEAR(masked->item<double>(), LoopSigReg(real, options), 1e-12);
  masked->backward();
  EXPECT_EQ(padded.grad().slice(0, 25).abs().max().item<double>(), 0.0);
  EXPECT_GT(padded.grad().slice(0, 0, 25).abs().max().item<double>(), 0.0);
}

TEST(SigRegStatistic, Float32GivesFloat32) {
  at::Generator gen = SeededGenerator(405);
  const at::Tensor points = at::randn({500, 10}, gen, Float64()) * 1.2;
  absl::StatusOr<at::Tensor> single = SigRegStatistic(points.to(at::kFloat), {});
  ASSERT_TRUE(single.ok()) << single.status();
  EXPECT_EQ(single->scalar_type(), at::kFloat);
  EXPECT_EQ(single->dim(), 0);
  const double expected = LoopSigReg(points, {});
  EXPECT_NEAR(single->item<double>(), expected, 1e-4 * expected);
}

TEST(SigRegStatistic, RejectsMalformedInputsAndOptions) {
  const auto message = [](const absl::StatusOr<at::Tensor>& r) {
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
    return std::string(r.status().message());
  };
  const at::Tensor good = at::randn({6, 3}, Float64());
  EXPECT_THAT(message(SigRegStatistic(at::randn({6}, Float64()), {})),
              HasSubstr("SIGReg: points must be a 2-D tensor"));
  EXPECT_THAT(message(SigRegStatistic(at::randn({6, 1}, Float64()), {})),
              HasSubstr("at least 2 dimensions"));
  EXPECT_THAT(message(SigRegStatistic(at::randn({1, 3}, Float64()), {})),
              HasSubstr("at least 2 points"));
  EXPECT_THAT(message(SigRegStatistic(good, at::ones({6}, at::kLong))), HasSubstr("keep"));
  EXPECT_THAT(message(SigRegStatistic(good, {}, {.projections = 0})),
              HasSubstr("options.projections"));
  EXPECT_THAT(message(SigRegStatistic(good, {}, {.knots = 1})), HasSubstr("options.knots"));
  EXPECT_THAT(message(SigRegStatistic(good, {}, {.t_max = 0.0})), HasSubstr("options.t_max"));
  EXPECT_THAT(message(SigRegStatistic(good, {}, {.t_max = std::nan("")})),
              HasSubstr("options.t_max"));
  at::Tensor inf = good.clone();
  inf[1][1] = std::numeric_limits<double>::infinity();
  EXPECT_THAT(message(SigRegStatistic(inf, {})), HasSubstr("NaN or infinite"));
}

}  // namespace
}  // namespace istar::regularizers

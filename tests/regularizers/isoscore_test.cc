// IsoScore*: the closed form against the published eigenvalue form, exact known values, its
// invariances, shrinkage, gradients, masks and errors.
#include <cmath>
#include <limits>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "regularizers/isotropy.h"
#include "tests/reference/published_forms.h"
#include "tests/regularizers/test_util.h"

namespace istar::regularizers {
namespace {

using ::istar::testing::CovarianceWithSpectrum;
using ::istar::testing::Float64;
using ::istar::testing::GaussianPoints;
using ::istar::testing::RandomRotation;
using ::istar::testing::SeededGenerator;

double ClosedForm(const at::Tensor& cov) {
  absl::StatusOr<at::Tensor> value = IsoScoreOfCovariance(cov);
  EXPECT_TRUE(value.ok()) << value.status();
  return value.ok() ? value->item<double>() : std::numeric_limits<double>::quiet_NaN();
}

double OfPoints(const at::Tensor& points, const at::Tensor& keep = {},
                const IsoScoreStarOptions& options = {}) {
  absl::StatusOr<at::Tensor> value = IsoScoreStar(points, keep, options);
  EXPECT_TRUE(value.ok()) << value.status();
  return value.ok() ? value->item<double>() : std::numeric_limits<double>::quiet_NaN();
}

// Spectra of different shapes for a d x d covariance.
std::vector<at::Tensor> Spectra(int64_t d, at::Generator& gen) {
  const at::Tensor index = at::arange(1, d + 1, Float64());
  at::Tensor outliers = at::ones({d}, Float64());
  outliers[0] = 1e4;  // one dominant direction, as BERT's outlier dimensions make
  at::Tensor low_rank = at::zeros({d}, Float64());
  low_rank.slice(0, 0, std::max<int64_t>(1, d / 3)).fill_(2.5);
  return {at::rand({d}, gen, Float64()) + 0.01,  // uniform
          index.pow(-1.0),                      // power law
          at::exp(-index / 8.0),                // fast decay
          outliers, low_rank};
}

TEST(IsoScoreOfCovariance, EqualsPublishedEigenvalueFormOverVariedSpectra) {
  at::Generator gen = SeededGenerator(1);
  for (int64_t d : {2, 3, 5, 16, 64, 257, 768, 1024}) {
    for (const at::Tensor& spectrum : Spectra(d, gen)) {
      const at::Tensor cov = CovarianceWithSpectrum(spectrum, gen);
      const double expected = reference::PublishedIsoScoreOfCovariance(cov).item<double>();
      EXPECT_NEAR(ClosedForm(cov), expected, 1e-6) << "d = " << d;
    }
  }
}

TEST(IsoScoreOfCovariance, RankKCovarianceGivesKMinusOneOverDMinusOne) {
  at::Generator gen = SeededGenerator(2);
  for (int64_t d : {25, 768}) {
    for (int64_t k : {1, 2, 5, 13, 25}) {
      at::Tensor spectrum = at::zeros({d}, Float64());
      spectrum.slice(0, 0, k).fill_(3.0);
      const double expected = static_cast<double>(k - 1) / static_cast<double>(d - 1);
      EXPECT_NEAR(ClosedForm(CovarianceWithSpectrum(spectrum, gen)), expected, 1e-12)
          << "d = " << d << ", k = " << k;
    }
  }
}

TEST(IsoScoreOfCovariance, IdentityGivesOne) {
  for (int64_t d : {2, 10, 768}) EXPECT_NEAR(ClosedForm(at::eye(d, Float64()) * 7.0), 1.0, 1e-12);
}

// The known values of shared/isoscore-test-vectors.md, from population covariances.
TEST(IsoScoreOfCovariance, MatchesPublishedTestVectors) {
  EXPECT_NEAR(ClosedForm(at::ones({10, 10}, Float64())), 0.0, 1e-12);
  EXPECT_NEAR(ClosedForm(at::diag(at::tensor({1e5, 1e-10, 1e-10}, Float64()))), 2.0e-15, 2e-16);
  EXPECT_NEAR(ClosedForm(at::diag(at::tensor({100.0, 1e-5, 1e-5}, Float64()))), 2.0000001e-07,
              1e-15);
  at::Tensor big = at::eye(1000, Float64());
  big[0][0] = 1e8;
  EXPECT_NEAR(ClosedForm(big), 2.00001e-08, 1e-13);
  // The plane x + 2y - 3z = 4 with x, y ~ N(0, 1000): z = (x + 2y - 4) / 3.
  const at::Tensor plane =
      1000.0 * at::tensor({1.0, 0.0, 1.0 / 3, 0.0, 1.0, 2.0 / 3, 1.0 / 3, 2.0 / 3, 5.0 / 9},
                          Float64())
                   .reshape({3, 3});
  EXPECT_NEAR(ClosedForm(plane), 0.4548736462, 1e-9);
  // The plane x - 5y - z = -6: z = x - 5y + 6.
  const at::Tensor plane2 =
      1000.0 * at::tensor({1.0, 0.0, 1.0, 0.0, 1.0, -5.0, 1.0, -5.0, 26.0}, Float64()).reshape({3, 3});
  EXPECT_NEAR(ClosedForm(plane2), 0.0369863014, 1e-9);
  EXPECT_NEAR(ClosedForm(at::tensor({1.0, 0.8, 0.8, 1.0}, Float64()).reshape({2, 2})),
              0.2195121951, 1e-9);
  EXPECT_NEAR(ClosedForm(at::diag(at::tensor({1.0, 2.0, 3.0}, Float64()))), 11.0 / 14.0, 1e-12);
  const std::vector<std::pair<double, double>> diag_x = {
      {1, 1.0}, {2, 0.923077}, {5, 0.529412}, {10, 0.256881}, {25, 0.091483},
      {50, 0.043045}, {75, 0.028044}};
  for (const auto& [x, expected] : diag_x) {
    at::Tensor cov = at::eye(10, Float64());
    cov[0][0] = x;
    EXPECT_NEAR(ClosedForm(cov), expected, 1e-6) << "x = " << x;
  }
  // 1000 points on the line x = y = z mixed with g points of N(0, I).
  const std::vector<std::pair<double, double>> mixture = {
      {0, 0.0}, {50, 0.033038}, {500, 0.294118}, {1000, 0.5}, {5000, 0.921053},
      {10000, 0.975610}, {14950, 0.988300}};
  for (const auto& [g, expected] : mixture) {
    const at::Tensor cov =
        (1000.0 * at::ones({3, 3}, Float64()) + g * at::eye(3, Float64())) / (1000.0 + g);
    EXPECT_NEAR(ClosedForm(cov), expected, 1e-6) << "g = " << g;
  }
}

TEST(IsoScoreStar, SampleOfIsotropicGaussianApproachesOne) {
  at::Generator gen = SeededGenerator(3);
  const at::Tensor points = GaussianPoints(50'000, at::eye(10, Float64()) * 4.0, 100.0, gen);
  EXPECT_NEAR(OfPoints(points), 1.0, 2e-3);
}

TEST(IsoScoreStar, PointsEqualPublishedFormWithShrinkage) {
  at::Generator gen = SeededGenerator(4);
  for (int64_t d : {2, 8, 64}) {
    const at::Tensor cov = CovarianceWithSpectrum(at::rand({d}, gen, Float64()) + 0.05, gen);
    const at::Tensor points = GaussianPoints(3 * d + 5, cov, 3.0, gen);
    const at::Tensor s0 = CovarianceWithSpectrum(at::rand({d}, gen, Float64()) + 0.05, gen);
    for (double zeta : {0.0, 0.2, 0.75}) {
      const double expected = reference::PublishedIsoScoreStar(points, s0, zeta).item<double>();
      EXPECT_NEAR(OfPoints(points, {}, {.zeta = zeta, .shrinkage = s0}), expected, 1e-10)
          << "d = " << d << ", zeta = " << zeta;
    }
  }
}

TEST(IsoScoreStar, InvariantToRotationScalingAndTranslation) {
  at::Generator gen = SeededGenerator(5);
  const int64_t d = 32;
  const at::Tensor points =
      GaussianPoints(200, CovarianceWithSpectrum(at::rand({d}, gen, Float64()), gen), 0.0, gen);
  const double base = OfPoints(points);
  EXPECT_NEAR(OfPoints(points.mm(RandomRotation(d, gen))), base, 1e-12);
  EXPECT_NEAR(OfPoints(points * 1e-3), base, 1e-12);
  EXPECT_NEAR(OfPoints(points * 250.0 + 17.0), base, 1e-12);
}

TEST(IsoScoreStar, ZetaZeroIsIsoScoreAndZetaOneIgnoresTheBatch) {
  at::Generator gen = SeededGenerator(6);
  const int64_t d = 6;
  const at::Tensor points =
      GaussianPoints(40, CovarianceWithSpectrum(at::rand({d}, gen, Float64()), gen), 1.0, gen)
          .requires_grad_();
  const at::Tensor s0 = CovarianceWithSpectrum(at::rand({d}, gen, Float64()) + 0.1, gen);
  EXPECT_NEAR(OfPoints(points, {}, {.zeta = 0.0, .shrinkage = s0}), *IsoScore(points), 1e-15);

  absl::StatusOr<at::Tensor> star = IsoScoreStar(points, {}, {.zeta = 1.0, .shrinkage = s0});
  ASSERT_TRUE(star.ok()) << star.status();
  EXPECT_NEAR(star->item<double>(), ClosedForm(s0), 1e-12);
  star->backward();
  EXPECT_EQ(points.grad().abs().max().item<double>(), 0.0);
}

// dL/dpoints against central differences, in float64.
TEST(IsoScoreStar, GradientMatchesFiniteDifferences) {
  at::Generator gen = SeededGenerator(7);
  const int64_t n = 7;
  const int64_t d = 4;
  const at::Tensor s0 = CovarianceWithSpectrum(at::rand({d}, gen, Float64()) + 0.1, gen);
  const at::Tensor points = at::randn({n, d}, gen, Float64()).requires_grad_();
  const IsoScoreStarOptions options{.zeta = 0.2, .shrinkage = s0};
  IsoScoreStar(points, {}, options)->backward();
  const at::Tensor analytic = points.grad().clone();

  const double h = 1e-6;
  at::Tensor x = points.detach().clone();
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) {
      const double saved = x[i][j].item<double>();
      x[i][j] = saved + h;
      const double up = OfPoints(x, {}, options);
      x[i][j] = saved - h;
      const double down = OfPoints(x, {}, options);
      x[i][j] = saved;
      EXPECT_NEAR(analytic[i][j].item<double>(), (up - down) / (2 * h), 1e-7)
          << "element (" << i << ", " << j << ")";
    }
  }
}

TEST(IsoScoreStar, GradientEqualsPublishedFormGradient) {
  at::Generator gen = SeededGenerator(8);
  const int64_t d = 16;
  const at::Tensor s0 = CovarianceWithSpectrum(at::rand({d}, gen, Float64()) + 0.1, gen);
  const at::Tensor points = at::randn({50, d}, gen, Float64()).requires_grad_();
  IsoScoreStar(points, {}, {.zeta = 0.3, .shrinkage = s0})->backward();
  const at::Tensor closed = points.grad().clone();
  points.grad().zero_();
  reference::PublishedIsoScoreStar(points, s0, 0.3).backward();
  EXPECT_LT((closed - points.grad()).abs().max().item<double>(),
            1e-10 * points.grad().abs().max().item<double>());
}

TEST(IsoScoreStar, MaskedRowsHaveNoEffect) {
  at::Generator gen = SeededGenerator(9);
  const at::Tensor real = at::randn({30, 5}, gen, Float64());
  at::Tensor padded = at::cat({real.slice(0, 0, 10), 1e6 * at::randn({8, 5}, gen, Float64()),
                               real.slice(0, 10)})
                          .requires_grad_();
  at::Tensor keep = at::ones({38}, at::TensorOptions().dtype(at::kBool));
  keep.slice(0, 10, 18).fill_(false);
  absl::StatusOr<at::Tensor> masked = IsoScoreStar(padded, keep);
  ASSERT_TRUE(masked.ok()) << masked.status();
  EXPECT_NEAR(masked->item<double>(), OfPoints(real), 1e-13);
  masked->backward();
  EXPECT_EQ(padded.grad().slice(0, 10, 18).abs().max().item<double>(), 0.0);
}

TEST(IsoScoreStar, Float32AgreesWithFloat64) {
  at::Generator gen = SeededGenerator(10);
  const at::Tensor cov = CovarianceWithSpectrum(at::rand({64}, gen, Float64()) + 0.01, gen);
  const at::Tensor points = GaussianPoints(2000, cov, 50.0, gen);  // a large mean, centred away
  absl::StatusOr<at::Tensor> single = IsoScoreStar(points.to(at::kFloat), {});
  ASSERT_TRUE(single.ok()) << single.status();
  EXPECT_EQ(single->scalar_type(), at::kFloat);
  EXPECT_NEAR(single->item<double>(), OfPoints(points), 1e-5);
}

TEST(IsoScoreStar, RejectsBadInputsWithClearErrors) {
  const auto expect_error = [](const absl::StatusOr<at::Tensor>& result, const char* needle) {
    ASSERT_FALSE(result.ok()) << "expected an error mentioning '" << needle << "'";
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(result.status().message().find(needle), std::string::npos) << result.status();
  };
  const at::Tensor good = at::randn({10, 4}, Float64());
  expect_error(IsoScoreStar(at::randn({1, 4}, Float64()), {}), "at least 2 points");
  expect_error(IsoScoreStar(at::randn({10, 1}, Float64()), {}), "at least 2 dimensions");
  expect_error(IsoScoreStar(at::randn({2, 10, 4}, Float64()), {}), "2-D");
  expect_error(IsoScoreStar(at::ones({10, 4}, at::TensorOptions().dtype(at::kLong)), {}),
               "float32 or float64");
  at::Tensor with_nan = good.clone();
  with_nan[3][2] = std::numeric_limits<double>::quiet_NaN();
  expect_error(IsoScoreStar(with_nan, {}), "NaN");
  expect_error(IsoScoreStar(good, at::ones({9}, at::TensorOptions().dtype(at::kBool))),
               "shape [10]");
  expect_error(IsoScoreStar(good, at::ones({10}, Float64())), "bool");
  expect_error(IsoScoreStar(good, at::zeros({10}, at::TensorOptions().dtype(at::kBool))),
               "at least 2 points");
  expect_error(IsoScoreStar(good, {}, {.zeta = 1.5}), "zeta must be in [0, 1]");
  expect_error(IsoScoreStar(good, {}, {.zeta = 0.5}), "needs a shrinkage matrix");
  expect_error(IsoScoreStar(good, {}, {.zeta = 0.5, .shrinkage = at::eye(3, Float64())}),
               "[4, 4]");
  expect_error(IsoScoreStar(at::ones({5, 4}, Float64()), {}), "all points identical");
  expect_error(IsoScoreOfCovariance(at::ones({3, 4}, Float64())), "square");
}

}  // namespace
}  // namespace istar::regularizers

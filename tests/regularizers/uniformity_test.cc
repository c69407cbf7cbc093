// The uniformity loss of Wang & Isola against an explicit double loop over pairs, known
// configurations, central differences and errors; and the sentence pooling.
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

// log( mean over pairs i < j of exp(-t ||u_i - u_j||^2) ), u = x / max(||x||, 1e-12), with the
// differences formed coordinate by coordinate.
double PairLoopUniformity(const at::Tensor& vectors, double t) {
  const at::Tensor cpu = vectors.detach().to(at::kCPU, at::kDouble).contiguous();
  const auto a = cpu.accessor<double, 2>();
  const int64_t s = cpu.size(0);
  const int64_t d = cpu.size(1);
  std::vector<std::vector<double>> u(s, std::vector<double>(d));
  for (int64_t i = 0; i < s; ++i) {
    double norm = 0.0;
    for (int64_t k = 0; k < d; ++k) norm += a[i][k] * a[i][k];
    norm = std::max(std::sqrt(norm), 1e-12);
    for (int64_t k = 0; k < d; ++k) u[i][k] = a[i][k] / norm;
  }
  double sum = 0.0;
  int64_t pairs = 0;
  for (int64_t i = 0; i < s; ++i) {
    for (int64_t j = i + 1; j < s; ++j) {
      double dist_sq = 0.0;
      for (int64_t k = 0; k < d; ++k) dist_sq += (u[i][k] - u[j][k]) * (u[i][k] - u[j][k]);
      sum += std::exp(-t * dist_sq);
      ++pairs;
    }
  }
  return std::log(sum / static_cast<double>(pairs));
}

double Value(const at::Tensor& vectors, double t = 2.0) {
  absl::StatusOr<at::Tensor> value = UniformityLoss(vectors, t);
  EXPECT_TRUE(value.ok()) << value.status();
  return value.ok() ? value->item<double>() : std::numeric_limits<double>::quiet_NaN();
}

TEST(UniformityLoss, EqualsDoubleLoopOverPairs) {
  at::Generator gen = SeededGenerator(200);
  for (int64_t s : {2, 3, 10, 97}) {
    for (int64_t d : {2, 8, 64}) {
      const at::Tensor vectors = at::randn({s, d}, gen, Float64()) * 3.0 + 0.5;
      for (double t : {0.5, 2.0, 10.0}) {
        EXPECT_NEAR(Value(vectors, t), PairLoopUniformity(vectors, t), 1e-12)
            << "s = " << s << ", d = " << d << ", t = " << t;
      }
    }
  }
}

TEST(UniformityLoss, KnownConfigurations) {
  // Three unit vectors at 120 degrees: every ||u_i - u_j||^2 = 2 - 2 cos = 3, so log(exp(-3t)).
  const double h = std::sqrt(3.0) / 2.0;
  const at::Tensor triangle = at::tensor({1.0, 0.0, -0.5, h, -0.5, -h}, Float64()).reshape({3, 2});
  EXPECT_NEAR(Value(triangle), -6.0, 1e-14);
  EXPECT_NEAR(Value(triangle, 0.5), -1.5, 1e-14);
  // Lengths do not matter: only directions.
  EXPECT_NEAR(Value(triangle * at::tensor({2.0, 0.1, 7.0}, Float64()).unsqueeze(1)), -6.0, 1e-14);
  // Opposite vectors: distance^2 4, the minimum -4t. Identical vectors: the maximum 0.
  EXPECT_NEAR(Value(at::tensor({1.0, 1.0, -3.0, -3.0}, Float64()).reshape({2, 2})), -8.0, 1e-14);
  EXPECT_NEAR(Value(at::tensor({1.0, 2.0, 2.0, 4.0, 0.5, 1.0}, Float64()).reshape({3, 2})), 0.0,
              1e-14);
  // An orthonormal basis of R^4: every distance^2 is 2.
  EXPECT_NEAR(Value(at::eye(4, Float64())), -4.0, 1e-14);
}

TEST(UniformityLoss, LargeTIsExactThroughLogSumExp) {
  // With t = 400, exp(-t * 2) underflows float64; the log-mean-exp stays exact: -2t.
  EXPECT_NEAR(Value(at::eye(3, Float64()), 400.0), -800.0, 1e-10);
}

TEST(UniformityLoss, GradientMatchesCentralDifferences) {
  at::Generator gen = SeededGenerator(201);
  const at::Tensor vectors = at::randn({12, 5}, gen, Float64()) + 0.3;
  ExpectGradientMatchesFiniteDifferences(
      [](const at::Tensor& x) { return *UniformityLoss(x, 2.0); }, vectors, 12, gen);
}

TEST(UniformityLoss, Float32GivesFloat32) {
  at::Generator gen = SeededGenerator(202);
  const at::Tensor vectors = at::randn({64, 32}, gen, Float64());
  absl::StatusOr<at::Tensor> single = UniformityLoss(vectors.to(at::kFloat));
  ASSERT_TRUE(single.ok()) << single.status();
  EXPECT_EQ(single->scalar_type(), at::kFloat);
  EXPECT_EQ(single->dim(), 0);
  EXPECT_NEAR(single->item<double>(), PairLoopUniformity(vectors, 2.0), 1e-5);
}

TEST(UniformityLoss, RejectsMalformedInputs) {
  const auto message = [](const absl::StatusOr<at::Tensor>& r) {
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
    return std::string(r.status().message());
  };
  EXPECT_THAT(message(UniformityLoss(at::randn({4, 3, 2}, Float64()))),
              HasSubstr("uniformity: vectors must be a 2-D tensor"));
  EXPECT_THAT(message(UniformityLoss(at::randn({4, 1}, Float64()))),
              HasSubstr("at least 2 dimensions"));
  EXPECT_THAT(message(UniformityLoss(at::randn({1, 3}, Float64()))),
              HasSubstr("at least 2 vectors"));
  EXPECT_THAT(message(UniformityLoss(at::ones({4, 3}, at::kLong))),
              HasSubstr("float32 or float64"));
  EXPECT_THAT(message(UniformityLoss(at::randn({4, 3}, Float64()), 0.0)), HasSubstr("t must be"));
  EXPECT_THAT(message(UniformityLoss(at::randn({4, 3}, Float64()), -1.0)), HasSubstr("t must be"));
  EXPECT_THAT(message(UniformityLoss(at::randn({4, 3}, Float64()), std::nan(""))),
              HasSubstr("t must be"));
  at::Tensor nan = at::randn({4, 3}, Float64());
  nan[2][0] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THAT(message(UniformityLoss(nan)), HasSubstr("NaN or infinite"));
}

TEST(PoolSentences, MeanOfRealTokensAndFirstToken) {
  at::Generator gen = SeededGenerator(203);
  const at::Tensor hidden = at::randn({3, 5, 4}, gen, Float64()).requires_grad_();
  // Sequence 0 has 5 real tokens, sequence 1 has 2, sequence 2 none.
  const at::Tensor mask =
      at::tensor({1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0}, at::kLong).reshape({3, 5});
  const at::Tensor mean = PoolSentences(hidden, mask, Pooling::kMean);
  ASSERT_EQ(mean.sizes(), (std::vector<int64_t>{3, 4}));
  const at::Tensor values = hidden.detach();
  const auto h = values.accessor<double, 3>();
  const std::vector<int64_t> real = {5, 2, 0};
  for (int64_t b = 0; b < 3; ++b) {
    for (int64_t k = 0; k < 4; ++k) {
      double expected = 0.0;
      for (int64_t t = 0; t < real[b]; ++t) expected += h[b][t][k];
      if (real[b] > 0) expected /= static_cast<double>(real[b]);
      EXPECT_NEAR(mean[b][k].item<double>(), expected, 1e-15) << "b = " << b << ", k = " << k;
    }
  }
  // The padding's states get no gradient; each real token 1 / (its sequence's real tokens).
  mean.sum().backward();
  EXPECT_TRUE(at::allclose(hidden.grad()[0], at::full({5, 4}, 0.2, Float64())));
  EXPECT_TRUE(at::allclose(hidden.grad()[1].slice(0, 0, 2), at::full({2, 4}, 0.5, Float64())));
  EXPECT_EQ(hidden.grad()[1].slice(0, 2).abs().max().item<double>(), 0.0);
  EXPECT_EQ(hidden.grad()[2].abs().max().item<double>(), 0.0);

  const at::Tensor first = PoolSentences(hidden, mask.to(at::kBool), Pooling::kFirstToken);
  EXPECT_TRUE(at::equal(first, hidden.detach().select(1, 0)));
}

TEST(PoolSentences, MalformedShapesThrow) {
  const at::Tensor hidden = at::randn({2, 3, 4}, Float64());
  EXPECT_THROW(PoolSentences(hidden, at::ones({2, 4}), Pooling::kMean), c10::Error);
  EXPECT_THROW(PoolSentences(at::randn({2, 3}, Float64()), at::ones({2, 3}), Pooling::kMean),
               c10::Error);
}

}  // namespace
}  // namespace istar::regularizers

// CosReg and the average cosine similarity: closed forms against the N x N matrix.
#include <cmath>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "regularizers/isotropy.h"
#include "tests/reference/published_forms.h"
#include "tests/regularizers/test_util.h"

namespace istar::regularizers {
namespace {

using ::istar::testing::Float64;
using ::istar::testing::SeededGenerator;

TEST(CosRegPenalty, EqualsPairwiseFormAndItsGradient) {
  at::Generator gen = SeededGenerator(30);
  for (int64_t n : {2, 3, 50, 700}) {
    const at::Tensor points = (at::randn({n, 16}, gen, Float64()) + 0.7).requires_grad_();
    absl::StatusOr<at::Tensor> closed = CosRegPenalty(points, {});
    ASSERT_TRUE(closed.ok()) << closed.status();
    const at::Tensor pairwise = reference::PairwiseCosReg(points);
    EXPECT_NEAR(closed->item<double>(), pairwise.item<double>(), 1e-13) << "n = " << n;
    closed->backward();
    const at::Tensor closed_grad = points.grad().clone();
    points.grad().zero_();
    pairwise.backward();
    EXPECT_LE((closed_grad - points.grad()).abs().max().item<double>(), 1e-13) << "n = " << n;
  }
}

TEST(CosRegPenalty, Float32AgreesWithPairwiseForm) {
  at::Generator gen = SeededGenerator(31);
  const at::Tensor points = at::randn({8192, 64}, gen, Float64()) + 0.3;
  absl::StatusOr<at::Tensor> closed = CosRegPenalty(points.to(at::kFloat), {});
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_NEAR(closed->item<double>(), reference::PairwiseCosReg(points).item<double>(), 1e-5);
}

TEST(CosRegPenalty, MaskedRowsHaveNoEffect) {
  at::Generator gen = SeededGenerator(32);
  const at::Tensor real = at::randn({20, 6}, gen, Float64());
  const at::Tensor padded = at::cat({real, at::randn({5, 6}, gen, Float64())}).requires_grad_();
  at::Tensor keep = at::ones({25}, at::TensorOptions().dtype(at::kBool));
  keep.slice(0, 20).fill_(false);
  absl::StatusOr<at::Tensor> masked = CosRegPenalty(padded, keep);
  ASSERT_TRUE(masked.ok()) << masked.status();
  EXPECT_NEAR(masked->item<double>(), reference::PairwiseCosReg(real).item<double>(), 1e-14);
  masked->backward();
  EXPECT_EQ(padded.grad().slice(0, 20).abs().max().item<double>(), 0.0);
}

TEST(AverageCosineSimilarity, KnownConfigurations) {
  // Parallel vectors of any lengths: every pair has cosine 1.
  const at::Tensor parallel = at::tensor({1.0, 2.0, 3.0}, Float64()).unsqueeze(0) *
                              at::tensor({1.0, 0.5, 7.0, 2.0}, Float64()).unsqueeze(1);
  EXPECT_NEAR(*AverageCosineSimilarity(parallel), 1.0, 1e-15);
  // An orthonormal basis: every pair has cosine 0.
  EXPECT_NEAR(*AverageCosineSimilarity(at::eye(5, Float64())), 0.0, 1e-15);
  // A vector and its opposite: -1.
  EXPECT_NEAR(*AverageCosineSimilarity(at::tensor({1.0, 1.0, -1.0, -1.0}, Float64()).reshape({2, 2})),
              -1.0, 1e-15);
  // Three unit vectors at 120 degrees in the plane: cosine -1/2 for every pair.
  const double s = std::sqrt(3.0) / 2.0;
  EXPECT_NEAR(*AverageCosineSimilarity(
                  at::tensor({1.0, 0.0, -0.5, s, -0.5, -s}, Float64()).reshape({3, 2})),
              -0.5, 1e-15);
}

TEST(AverageCosineSimilarity, EqualsPairwiseMean) {
  at::Generator gen = SeededGenerator(33);
  const at::Tensor points = at::randn({300, 12}, gen, Float64()) + 1.0;
  EXPECT_NEAR(*AverageCosineSimilarity(points), reference::PairwiseAverageCosine(points), 1e-13);
}

TEST(CosRegPenalty, RejectsTooFewPointsAndNaN) {
  EXPECT_EQ(CosRegPenalty(at::randn({1, 4}, Float64()), {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  at::Tensor nan = at::randn({4, 4}, Float64());
  nan[1][1] = std::nan("");
  absl::StatusOr<at::Tensor> result = CosRegPenalty(nan, {});
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("NaN"), std::string::npos) << result.status();
}

}  // namespace
}  // namespace istar::regularizers

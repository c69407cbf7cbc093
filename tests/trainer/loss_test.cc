// The tensor-level step: layer selection, the point cloud of real tokens, the loss's parts.
#include "trainer/loss.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <vector>

namespace istar::trainer {
namespace {

TEST(ResolveLayers, EmptyMeansEveryTransformerLayer) {
  absl::StatusOr<std::vector<int64_t>> layers = ResolveLayers(3, {});
  ASSERT_TRUE(layers.ok());
  EXPECT_EQ(*layers, (std::vector<int64_t>{1, 2, 3}));
}

TEST(ResolveLayers, SortsDeduplicatesAndRejectsOutOfRange) {
  const std::vector<int64_t> requested = {3, 1, 3};
  EXPECT_EQ(*ResolveLayers(3, requested), (std::vector<int64_t>{1, 3}));
  const std::vector<int64_t> embedding = {0};
  EXPECT_EQ(ResolveLayers(3, embedding).status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<int64_t> past_end = {4};
  EXPECT_EQ(ResolveLayers(3, past_end).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(GatherPoints, KeepsOnlyRealTokensOfEachChosenLayer) {
  // Two sequences of length 3, the second with one padding token; hidden size 2.
  std::vector<at::Tensor> hidden;
  for (int layer = 0; layer < 3; ++layer) {
    hidden.push_back(at::arange(12, at::kFloat).reshape({2, 3, 2}) + 100 * layer);
  }
  const at::Tensor mask = at::tensor(std::vector<int64_t>{1, 1, 1, 1, 1, 0}).reshape({2, 3});
  const std::vector<int64_t> layers = {1, 2};
  const PointCloud cloud = GatherPoints(hidden, mask, layers);
  EXPECT_EQ(cloud.tokens, 5);
  ASSERT_EQ(cloud.points.sizes(), (std::vector<int64_t>{10, 2}));
  EXPECT_EQ(cloud.points[0][0].item<float>(), 100.0f);  // layer 1, first token
  EXPECT_EQ(cloud.points[4][1].item<float>(), 109.0f);  // layer 1, last real token
  EXPECT_EQ(cloud.points[5][0].item<float>(), 200.0f);  // layer 2 starts after 5 rows
}

TEST(ComputeLoss, BaselineIsCrossEntropyAndRegularizersAddTheirTerm) {
  at::manual_seed(3);
  const at::Tensor logits = at::randn({4, 2});
  const at::Tensor labels = at::tensor(std::vector<int64_t>{0, 1, 1, 0});
  PointCloud cloud{.points = at::randn({16, 8}, at::kDouble), .tokens = 16, .layers = {1}};
  auto baseline = ComputeLoss(logits, labels, {}, {});
  ASSERT_TRUE(baseline.ok());
  EXPECT_EQ(baseline->regularizer.item<double>(), 0.0);
  EXPECT_NEAR(baseline->task.item<double>(),
              -at::log_softmax(logits, -1).gather(1, labels.unsqueeze(1)).mean().item<double>(),
              1e-6);
  auto istar =
      ComputeLoss(logits, labels, cloud, {.kind = sweeps::Regularizer::kIStar, .lambda = -2.0});
  ASSERT_TRUE(istar.ok()) << istar.status();
  auto measures = MeasureIsotropy(cloud.points, 0.0, {});
  ASSERT_TRUE(measures.ok());
  EXPECT_NEAR(istar->regularizer.item<double>(), -2.0 * (1.0 - measures->isoscore), 1e-5);
  auto cosreg =
      ComputeLoss(logits, labels, cloud, {.kind = sweeps::Regularizer::kCosReg, .lambda = 1.0});
  ASSERT_TRUE(cosreg.ok()) << cosreg.status();
  EXPECT_NEAR(cosreg->total.item<double>(),
              cosreg->task.item<double>() + cosreg->regularizer.item<double>(), 1e-6);
}

TEST(ComputeLoss, IStarWithShrinkageButNoS0IsInvalidArgument) {
  const at::Tensor logits = at::zeros({2, 2});
  const at::Tensor labels = at::tensor(std::vector<int64_t>{0, 1});
  PointCloud cloud{.points = at::randn({8, 4}), .tokens = 8, .layers = {1}};
  auto loss = ComputeLoss(logits, labels, cloud,
                          {.kind = sweeps::Regularizer::kIStar, .lambda = 1.0, .zeta = 0.5});
  EXPECT_EQ(loss.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace istar::trainer

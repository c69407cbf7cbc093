// The tensor-level step: layer selection, the point cloud of real tokens, the loss's parts.
#include "trainer/loss.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "regularizers/isotropy.h"

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
  // Each real token's row of the batch: three of the first sequence, two of the second.
  EXPECT_EQ(cloud.sequences, 2);
  ASSERT_TRUE(cloud.sequence.defined());
  EXPECT_TRUE(at::equal(cloud.sequence, at::tensor(std::vector<int64_t>{0, 0, 0, 1, 1})));
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
  auto istar = ComputeLoss(logits, labels, cloud, {.name = "istar", .lambda = -2.0});
  ASSERT_TRUE(istar.ok()) << istar.status();
  auto measures = MeasureIsotropy(cloud.points, 0.0, {});
  ASSERT_TRUE(measures.ok());
  EXPECT_NEAR(istar->regularizer.item<double>(), -2.0 * (1.0 - measures->isoscore), 1e-5);
  auto cosreg = ComputeLoss(logits, labels, cloud, {.name = "cosreg", .lambda = 1.0});
  ASSERT_TRUE(cosreg.ok()) << cosreg.status();
  EXPECT_NEAR(cosreg->total.item<double>(),
              cosreg->task.item<double>() + cosreg->regularizer.item<double>(), 1e-6);
}

TEST(CheckTrainable, EveryCatalogueRegularizerTrainsAndBadSettingsAreRefused) {
  for (const catalog::RegularizerSpec& spec : catalog::Regularizers()) {
    EXPECT_TRUE(CheckTrainable({.name = std::string(spec.name), .lambda = 1.0}).ok()) << spec.name;
  }
  EXPECT_EQ(CheckTrainable({.name = "l2"}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      CheckTrainable({.name = "vicreg", .lambda = 1.0, .parameters = {{"gamma", 0.0}}}).code(),
      absl::StatusCode::kInvalidArgument);  // gamma > 0
  EXPECT_EQ(CheckTrainable({.name = "istar", .lambda = 1.0, .zeta = 1.5}).code(),
            absl::StatusCode::kInvalidArgument);
}

// The loss passes the step's draw seed and S0 to the term and weights it by lambda.
TEST(ComputeLoss, NewRegularizersAddLambdaTimesTheirTerm) {
  at::manual_seed(5);
  const at::Tensor logits = at::randn({2, 2}, at::kDouble);
  const at::Tensor labels = at::tensor(std::vector<int64_t>{0, 1});
  std::vector<at::Tensor> hidden;
  for (int layer = 0; layer < 2; ++layer) hidden.push_back(at::randn({2, 5, 6}, at::kDouble));
  const at::Tensor mask =
      at::tensor(std::vector<int64_t>{1, 1, 1, 1, 0, 1, 1, 1, 0, 0}).reshape({2, 5});
  const std::vector<int64_t> layers = {1};
  const PointCloud cloud = GatherPoints(hidden, mask, layers);
  const auto loss = [&](const RegularizerSettings& settings) {
    absl::StatusOr<StepLoss> result = ComputeLoss(logits, labels, cloud, settings);
    EXPECT_TRUE(result.ok()) << settings.name << ": " << result.status();
    return result.ok() ? result->regularizer.item<double>() : 0.0;
  };
  EXPECT_NEAR(loss({.name = "vicreg", .lambda = 3.0, .parameters = {{"gamma", 1.0}}}),
              3.0 * regularizers::VicRegPenalty(cloud.points, {}, {.gamma = 1.0})->item<double>(),
              1e-12);
  EXPECT_NEAR(loss({.name = "sigreg", .lambda = -2.0, .draw_seed = 17}),
              -2.0 * regularizers::SigRegStatistic(cloud.points, {}, {.seed = 17})->item<double>(),
              1e-12);
  // Uniformity of the sequences' mean vectors, as PoolSentences makes them from the batch.
  const at::Tensor sentences =
      regularizers::PoolSentences(hidden[1], mask, regularizers::Pooling::kMean);
  EXPECT_NEAR(loss({.name = "uniformity", .lambda = 0.5, .parameters = {{"t", 2.0}}}),
              0.5 * regularizers::UniformityLoss(sentences, 2.0)->item<double>(), 1e-12);
  // Dispersion by hand: sequence 0 has tokens 0..3, sequence 1 tokens 0..2 (layer 1).
  double expected = 0.0;
  for (const int64_t length : {4, 3}) {
    const int64_t row = length == 4 ? 0 : 1;
    double sum = 0.0;
    for (int64_t i = 0; i < length; ++i) {
      for (int64_t j = 0; j < length; ++j) {
        if (i == j) continue;
        sum += at::cosine_similarity(hidden[1][row][i], hidden[1][row][j], 0).item<double>();
      }
    }
    expected += sum / static_cast<double>(length * (length - 1)) / 2.0;
  }
  EXPECT_NEAR(loss({.name = "dispersion", .lambda = 2.0}), 2.0 * expected, 1e-12);
}

TEST(ComputeLoss, IStarWithShrinkageButNoS0IsInvalidArgument) {
  const at::Tensor logits = at::zeros({2, 2});
  const at::Tensor labels = at::tensor(std::vector<int64_t>{0, 1});
  PointCloud cloud{.points = at::randn({8, 4}), .tokens = 8, .layers = {1}};
  auto loss = ComputeLoss(logits, labels, cloud, {.name = "istar", .lambda = 1.0, .zeta = 0.5});
  EXPECT_EQ(loss.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace istar::trainer

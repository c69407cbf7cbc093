// One optimizer step over micro-batches (trainer/step.h): K micro-batches give the gradient of
// the one-batch step, the regularizer over the whole step's points, with and without dropout.
#include "trainer/step.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>

#include <memory>
#include <string>
#include <vector>

#include "models/config.h"
#include "models/model.h"
#include "regularizers/regularizer.h"
#include "trainer/loss.h"

namespace istar::trainer {
namespace {

constexpr int64_t kVocab = 90;
constexpr int64_t kHidden = 16;

std::unique_ptr<models::TaskModel> TinyModel(double dropout) {
  models::ModelConfig config = models::DefaultConfig(models::Architecture::kBert);
  config.vocab_size = kVocab;
  config.hidden_size = kHidden;
  config.embedding_size = kHidden;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 2;
  config.intermediate_size = 32;
  config.max_position_embeddings = 32;
  config.hidden_dropout_prob = dropout;
  config.attention_probs_dropout_prob = dropout;
  config.classifier_dropout = dropout;
  auto model = models::CreateModel(config, models::Head::kSequenceClassification, 2, 3);
  EXPECT_TRUE(model.ok()) << model.status();
  (*model)->module().to(at::kDouble);
  (*model)->module().train();
  return *std::move(model);
}

struct Batch {
  at::Tensor ids, mask, labels;
};

Batch RandomBatch(int64_t rows, int64_t cols) {
  at::Generator gen = at::detail::createCPUGenerator(11);
  Batch b;
  b.ids = at::randint(5, kVocab, {rows, cols}, gen, at::kLong);
  const at::Tensor lengths = at::randint(3, cols + 1, {rows, 1}, gen, at::kLong);
  b.mask = (at::arange(cols, at::kLong).unsqueeze(0) < lengths).to(at::kLong);
  b.ids = b.ids * b.mask;
  b.labels = at::randint(0, 2, {rows}, gen, at::kLong);
  return b;
}

const std::vector<int64_t> kLayers = {1, 2};

// The trainer's forward on rows [rows.begin, rows.end) of `batch`.
MicroBatchForward ForwardOn(models::TaskModel& model, const Batch& batch) {
  return [&model, &batch](const Shard& rows, bool with_cloud) -> absl::StatusOr<MicroBatchOutput> {
    const at::Tensor ids = batch.ids.slice(0, rows.begin, rows.end);
    const at::Tensor mask = batch.mask.slice(0, rows.begin, rows.end);
    const models::ModelOutput out = model.Forward(
        {.input_ids = ids, .attention_mask = mask, .token_type_ids = at::zeros_like(ids)});
    MicroBatchOutput result;
    if (with_cloud) result.cloud = GatherPoints(out.hidden_states, mask, kLayers);
    result.task_loss_sum =
        ClassificationLossSum(out.logits, batch.labels.slice(0, rows.begin, rows.end));
    return result;
  };
}

StepOptions Options(int64_t rows, int64_t micro_batches) {
  return {.global_rows = rows,
          .local_rows = rows,
          .micro_batches = micro_batches,
          .log = true,
          .hidden = kHidden,
          .layers = kLayers,
          .options = at::TensorOptions(at::kDouble)};
}

std::vector<at::Tensor> Gradients(torch::nn::Module& module) {
  std::vector<at::Tensor> grads;
  for (const at::Tensor& p : module.parameters()) {
    grads.push_back(p.grad().defined() ? p.grad().clone() : at::zeros_like(p));
  }
  return grads;
}

// The largest relative difference over the parameters, against the largest gradient.
double RelativeError(const std::vector<at::Tensor>& got, const std::vector<at::Tensor>& want) {
  double largest = 0.0;
  double error = 0.0;
  for (size_t k = 0; k < want.size(); ++k) {
    largest = std::max(largest, want[k].abs().max().item<double>());
    error = std::max(error, (got[k] - want[k]).abs().max().item<double>());
  }
  return error / largest;
}

RegularizerSettings Regularizer(const std::string& name) {
  if (name == "cosreg") return {.name = "cosreg", .lambda = 0.8};
  if (name == "istar") return {.name = "istar", .lambda = -1.5};
  if (name == "istar_shrinkage") {
    at::Generator gen = at::detail::createCPUGenerator(4);
    const at::Tensor sample = at::randn({200, kHidden}, gen, at::kDouble);
    return {.name = "istar", .lambda = 2.0, .zeta = 0.3, .shrinkage = at::cov(sample.t())};
  }
  if (name == "vicreg") return {.name = "vicreg", .lambda = 0.9, .parameters = {{"gamma", 1.0}}};
  if (name == "uniformity") {
    return {.name = "uniformity", .lambda = 0.7, .parameters = {{"t", 2.0}}};
  }
  if (name == "dispersion") return {.name = "dispersion", .lambda = 0.8};
  if (name == "sigreg") return {.name = "sigreg", .lambda = 0.5, .draw_seed = 3};
  return {};
}

// Runs one step with fresh gradients; returns its result and the parameters' gradients.
std::pair<StepResult, std::vector<at::Tensor>> RunStep(models::TaskModel& model, const Batch& batch,
                                                       const RegularizerSettings& regularizer,
                                                       int64_t micro_batches) {
  for (const at::Tensor& p : model.module().parameters()) p.mutable_grad() = at::Tensor();
  absl::StatusOr<StepResult> result =
      RunStepPasses(ForwardOn(model, batch), Options(batch.ids.size(0), micro_batches), regularizer,
                    regularizers::LocalSum(), nullptr);
  EXPECT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->rejected.ok()) << result->rejected;
  return {*result, Gradients(model.module())};
}

class AccumulationTest : public ::testing::TestWithParam<std::string> {};

// Without dropout the forward passes are deterministic: K micro-batches (7 rows, so uneven ones;
// 9 leaves two empty) give the one-batch step's loss and gradients up to rounding.
TEST_P(AccumulationTest, MicroBatchesGiveTheOneBatchStep) {
  const std::unique_ptr<models::TaskModel> model = TinyModel(0.0);
  const Batch batch = RandomBatch(7, 10);
  const RegularizerSettings regularizer = Regularizer(GetParam());
  const auto [whole, want] = RunStep(*model, batch, regularizer, 1);
  for (const int64_t k : {2, 3, 7, 9}) {
    SCOPED_TRACE(k);
    const auto [split, got] = RunStep(*model, batch, regularizer, k);
    EXPECT_NEAR(split.loss.total.item<double>(), whole.loss.total.item<double>(), 1e-12);
    EXPECT_NEAR(split.loss.task.item<double>(), whole.loss.task.item<double>(), 1e-12);
    EXPECT_NEAR(split.loss.regularizer.item<double>(), whole.loss.regularizer.item<double>(),
                1e-12);
    EXPECT_LE(RelativeError(got, want), 1e-10);
    // The logged cloud is the whole step's, in GatherPoints's layout.
    EXPECT_EQ(split.cloud.tokens, whole.cloud.tokens);
    EXPECT_TRUE(at::allclose(split.cloud.points, whole.cloud.points, 0, 1e-12));
  }
}

INSTANTIATE_TEST_SUITE_P(Regularizers, AccumulationTest,
                         ::testing::Values("baseline", "cosreg", "istar", "istar_shrinkage",
                                           "vicreg", "uniformity", "dispersion", "sigreg"));

// With dropout, the reference is the loss of both micro-batches' forward passes drawn one after
// the other from one generator state, kept in one graph, with the regularizer on their joined
// cloud. The accumulated step must reproduce it: its second pass replays the generator, so the
// points it differentiates are the ones its first pass measured. (Without the replay the second
// pass draws new masks and the gradients differ by far more than rounding.)
TEST(Accumulation, WithDropoutBothPassesDrawTheSameMasks) {
  const std::unique_ptr<models::TaskModel> model = TinyModel(0.2);
  const Batch batch = RandomBatch(6, 10);
  const RegularizerSettings regularizer = Regularizer("istar_shrinkage");
  at::manual_seed(5);
  for (const at::Tensor& p : model->module().parameters()) p.mutable_grad() = at::Tensor();
  const MicroBatchForward forward = ForwardOn(*model, batch);
  absl::StatusOr<MicroBatchOutput> first = forward({.begin = 0, .end = 3}, true);
  absl::StatusOr<MicroBatchOutput> second = forward({.begin = 3, .end = 6}, true);
  ASSERT_TRUE(first.ok() && second.ok());
  const PointCloud joined =
      JoinClouds({first->cloud, second->cloud}, kLayers, kHidden, at::TensorOptions(at::kDouble));
  absl::StatusOr<StepLoss> reference =
      ComputeStepLoss(first->task_loss_sum + second->task_loss_sum, 6, joined, regularizer);
  ASSERT_TRUE(reference.ok()) << reference.status();
  reference->objective.backward();
  const std::vector<at::Tensor> want = Gradients(model->module());
  const at::Tensor generator_after = at::detail::getDefaultCPUGenerator().get_state();

  at::manual_seed(5);
  const auto [split, got] = RunStep(*model, batch, regularizer, 2);
  EXPECT_NEAR(split.loss.total.item<double>(), reference->total.item<double>(), 1e-12);
  EXPECT_LE(RelativeError(got, want), 1e-10);
  EXPECT_TRUE(at::equal(at::detail::getDefaultCPUGenerator().get_state(), generator_after))
      << "the generator must end where one pass over the micro-batches leaves it";
}

// A logged step's forward gathers every layer (logged_layers) while the regularizer reads layer 2
// alone: the regularizer, the loss and the gradients are those of a step whose forward gathers
// layer 2 only, and the returned cloud holds both layers, for one pass and for micro-batches.
TEST(LoggedLayers, TheRegularizerSeesItsLayersAndTheLogEveryLayer) {
  const std::unique_ptr<models::TaskModel> model = TinyModel(0.0);
  const Batch batch = RandomBatch(7, 10);
  const RegularizerSettings regularizer = Regularizer("istar");
  const auto forward_on = [&](const std::vector<int64_t>& layers) -> MicroBatchForward {
    return [&, layers](const Shard& rows, bool with_cloud) -> absl::StatusOr<MicroBatchOutput> {
      const at::Tensor ids = batch.ids.slice(0, rows.begin, rows.end);
      const at::Tensor mask = batch.mask.slice(0, rows.begin, rows.end);
      const models::ModelOutput out = model->Forward(
          {.input_ids = ids, .attention_mask = mask, .token_type_ids = at::zeros_like(ids)});
      MicroBatchOutput result;
      if (with_cloud) result.cloud = GatherPoints(out.hidden_states, mask, layers);
      result.task_loss_sum =
          ClassificationLossSum(out.logits, batch.labels.slice(0, rows.begin, rows.end));
      return result;
    };
  };
  for (const int64_t k : {1, 3}) {
    SCOPED_TRACE(k);
    StepOptions only = Options(7, k);
    only.log = false;
    only.layers = {2};
    for (const at::Tensor& p : model->module().parameters()) p.mutable_grad() = at::Tensor();
    absl::StatusOr<StepResult> want =
        RunStepPasses(forward_on({2}), only, regularizer, regularizers::LocalSum(), nullptr);
    ASSERT_TRUE(want.ok() && want->rejected.ok());
    const std::vector<at::Tensor> want_gradients = Gradients(model->module());
    StepOptions logged = only;
    logged.log = true;
    logged.logged_layers = {1, 2};
    for (const at::Tensor& p : model->module().parameters()) p.mutable_grad() = at::Tensor();
    absl::StatusOr<StepResult> got =
        RunStepPasses(forward_on({1, 2}), logged, regularizer, regularizers::LocalSum(), nullptr);
    ASSERT_TRUE(got.ok() && got->rejected.ok());
    EXPECT_NEAR(got->loss.regularizer.item<double>(), want->loss.regularizer.item<double>(), 1e-12);
    EXPECT_NEAR(got->loss.total.item<double>(), want->loss.total.item<double>(), 1e-12);
    EXPECT_LE(RelativeError(Gradients(model->module()), want_gradients), 1e-10);
    EXPECT_EQ(got->cloud.layers, (std::vector<int64_t>{1, 2}));
    ASSERT_EQ(got->cloud.points.size(0), 2 * got->cloud.tokens);
    // Layer 2's block of the logged cloud is the regularizer's cloud.
    EXPECT_TRUE(
        at::allclose(got->cloud.points.slice(0, got->cloud.tokens), want->cloud.points, 0, 1e-12));
  }
}

TEST(SelectLayers, TakesTheLayersBlocksInTheGivenOrder) {
  const PointCloud cloud{
      .points = at::tensor({1.0, 2.0, 10.0, 20.0, 5.0, 6.0}, at::kDouble).view({6, 1}),
      .tokens = 2,
      .layers = {1, 2, 3}};
  const PointCloud selected = SelectLayers(cloud, {3, 1});
  EXPECT_EQ(selected.tokens, 2);
  EXPECT_EQ(selected.layers, (std::vector<int64_t>{3, 1}));
  EXPECT_TRUE(at::equal(selected.points.view({-1}), at::tensor({5.0, 6.0, 1.0, 2.0}, at::kDouble)));
  EXPECT_TRUE(SelectLayers(cloud, {1, 2, 3}).points.is_same(cloud.points));
}

TEST(JoinClouds, PutsEachLayersRowsOfEveryPartTogether) {
  // Two parts of 2 and 1 tokens, 2 layers: part rows are [layer 1 tokens..., layer 2 tokens...].
  const PointCloud a{.points = at::tensor({1.0, 2.0, 10.0, 20.0}, at::kDouble).view({4, 1}),
                     .tokens = 2,
                     .layers = {1, 2}};
  const PointCloud b{
      .points = at::tensor({3.0, 30.0}, at::kDouble).view({2, 1}), .tokens = 1, .layers = {1, 2}};
  const PointCloud joined = JoinClouds({a, b}, {1, 2}, 1, at::TensorOptions(at::kDouble));
  EXPECT_EQ(joined.tokens, 3);
  EXPECT_TRUE(at::equal(joined.points.view({-1}),
                        at::tensor({1.0, 2.0, 3.0, 10.0, 20.0, 30.0}, at::kDouble)));
  EXPECT_FALSE(joined.sequence.defined());  // the parts do not say their tokens' sequences
  const PointCloud none = JoinClouds({}, {1, 2}, 5, at::TensorOptions(at::kDouble));
  EXPECT_EQ(none.tokens, 0);
  EXPECT_EQ(none.points.sizes(), (at::IntArrayRef{0, 5}));
}

TEST(JoinClouds, NumbersEachPartsSequencesAfterThoseBeforeIt) {
  const PointCloud a{.points = at::zeros({3, 2}, at::kDouble),
                     .tokens = 3,
                     .layers = {1},
                     .sequence = at::tensor(std::vector<int64_t>{0, 0, 1}),
                     .sequences = 2};
  const PointCloud b{.points = at::zeros({2, 2}, at::kDouble),
                     .tokens = 2,
                     .layers = {1},
                     .sequence = at::tensor(std::vector<int64_t>{0, 1}),
                     .sequences = 3};  // its third sequence has no real token here
  const PointCloud joined = JoinClouds({a, b}, {1}, 2, at::TensorOptions(at::kDouble));
  EXPECT_EQ(joined.sequences, 5);
  EXPECT_TRUE(at::equal(joined.sequence, at::tensor(std::vector<int64_t>{0, 0, 1, 2, 3})));
}

// The term of `regularizer` on `batch`, measured without dropout or gradient.
double TermOn(models::TaskModel& model, const Batch& batch,
              const RegularizerSettings& regularizer) {
  at::NoGradGuard no_grad;
  const models::ModelOutput out = model.Forward({.input_ids = batch.ids,
                                                 .attention_mask = batch.mask,
                                                 .token_type_ids = at::zeros_like(batch.ids)});
  absl::StatusOr<std::unique_ptr<const regularizers::Regularizer>> term = MakeTerm(regularizer);
  EXPECT_TRUE(term.ok() && *term != nullptr) << term.status();
  absl::StatusOr<at::Tensor> value = (*term)->Term(
      GatherPoints(out.hidden_states, batch.mask, kLayers), {.draw_seed = regularizer.draw_seed});
  EXPECT_TRUE(value.ok()) << value.status();
  return value->item<double>();
}

class DirectionTest : public ::testing::TestWithParam<std::string> {};

// A positive lambda lowers the regularizer's own statistic and a negative one raises it: ten
// steps of gradient descent (step size 0.002) on the task loss plus lambda = +-1 times the term,
// on one batch of the tiny model, from the same initial weights. (With steps 5 times larger,
// uniformity's positive run overshoots and ends above where it started: its gradient with
// respect to the weights is the largest of the terms here.)
TEST_P(DirectionTest, ThePositiveWeightLowersTheTermAndTheNegativeOneRaisesIt) {
  const Batch batch = RandomBatch(12, 10);
  RegularizerSettings regularizer = Regularizer(GetParam());
  const double before = TermOn(*TinyModel(0.0), batch, regularizer);
  std::vector<double> after;
  for (const double sign : {1.0, -1.0}) {
    const std::unique_ptr<models::TaskModel> model = TinyModel(0.0);
    RegularizerSettings settings = regularizer;
    settings.lambda = sign * 1.0;
    for (int step = 0; step < 10; ++step) {
      settings.draw_seed = DrawSeed(1, step);  // SIGReg: new directions each step, as the loop
      const auto [result, gradients] = RunStep(*model, batch, settings, 1);
      ASSERT_TRUE(result.rejected.ok()) << result.rejected;
      at::NoGradGuard no_grad;
      std::vector<at::Tensor> parameters = model->module().parameters();
      for (size_t k = 0; k < parameters.size(); ++k) parameters[k].sub_(0.002 * gradients[k]);
    }
    after.push_back(TermOn(*model, batch, regularizer));
  }
  EXPECT_LT(after[0], before) << GetParam();
  EXPECT_GT(after[1], before) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Regularizers, DirectionTest,
                         ::testing::Values("cosreg", "istar", "vicreg", "uniformity", "dispersion",
                                           "sigreg"));

}  // namespace
}  // namespace istar::trainer

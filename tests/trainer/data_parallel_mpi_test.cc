// Data-parallel training across two real MPI processes (ctest runs this binary under
// mpiexec -n 2). Both ranks compute the one-process reference themselves, from the same seeds and
// data, and compare the group's result with it:
//   - one step: with each rank on its part of a batch, the loss and every parameter's gradient
//     equal those of one process on the whole batch (float64, relative error <= 1e-10), for the
//     baseline, CosReg and I-STAR, classification and SQuAD heads;
//   - isotropy_scope per_rank: the regularizer is the mean of the shards' own terms, and the
//     averaged gradient that of the task loss plus that mean;
//   - whole trials (RunTrial): the rows a 2-rank group writes to the store equal a one-process
//     run's, including an epoch tail that leaves a rank without rows, I-STAR's S0 under a binding
//     point budget, SQuAD's sharded evaluation, and a stop and resume.
// Models have no dropout: with it, the two runs would draw different masks.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "comm/communicator.h"
#include "comm/counting_communicator.h"
#include "db/store.h"
#include "models/config.h"
#include "models/model.h"
#include "regularizers/isotropy.h"
#include "regularizers/tensor_collectives.h"
#include "sweeps/sweep.h"
#include "tasks/task.h"
#include "tests/testing/mpi_test_main.h"
#include "trainer/data_parallel.h"
#include "trainer/device.h"
#include "trainer/loss.h"
#include "trainer/trainer.h"

namespace istar::trainer {
namespace {

namespace fs = std::filesystem;
using ::istar::testing::TestGroup;

constexpr int64_t kVocab = 120;

models::ModelConfig TinyConfig() {
  models::ModelConfig config = models::DefaultConfig(models::Architecture::kBert);
  config.vocab_size = kVocab;
  config.hidden_size = 16;
  config.embedding_size = 16;  // BERT's embeddings are hidden_size wide
  config.num_hidden_layers = 2;
  config.num_attention_heads = 2;
  config.intermediate_size = 32;
  config.max_position_embeddings = 32;
  config.hidden_dropout_prob = 0.0;
  config.attention_probs_dropout_prob = 0.0;
  config.classifier_dropout = 0.0;
  return config;
}

std::unique_ptr<models::TaskModel> TinyModel(models::Head head, uint64_t seed) {
  auto model = models::CreateModel(TinyConfig(), head, 2, seed);
  EXPECT_TRUE(model.ok()) << model.status();
  (*model)->module().to(at::kDouble);
  return *std::move(model);
}

// A padded batch of random token ids, the same on every rank (seeded).
struct TokenBatch {
  at::Tensor ids, mask, labels, starts, ends;
  int64_t rows() const { return ids.size(0); }
  TokenBatch Rows(int64_t begin, int64_t end) const {
    return {ids.slice(0, begin, end), mask.slice(0, begin, end), labels.slice(0, begin, end),
            starts.slice(0, begin, end), ends.slice(0, begin, end)};
  }
};

TokenBatch RandomBatch(int64_t rows, int64_t cols, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  TokenBatch b;
  b.ids = at::randint(5, kVocab, {rows, cols}, gen, at::kLong);
  const at::Tensor lengths = at::randint(3, cols + 1, {rows, 1}, gen, at::kLong);
  b.mask = (at::arange(cols, at::kLong).unsqueeze(0) < lengths).to(at::kLong);
  b.ids = b.ids * b.mask;  // padding id 0
  b.labels = at::randint(0, 2, {rows}, gen, at::kLong);
  b.starts = at::randint(0, 3, {rows}, gen, at::kLong);
  b.ends = b.starts + 1;
  return b;
}

struct Case {
  const char* name;
  std::string kind;
  double lambda;
  double zeta;
  bool squad;
};

// Runs one step's forward and backward on `batch` (this rank's rows of a batch of `global_rows`)
// and returns the step's total loss.
double Step(models::TaskModel& model, const TokenBatch& batch, int64_t global_rows,
                const Case& c, const regularizers::CrossRankSum& ranks, const at::Tensor& s0) {
  model.module().train();
  const models::ModelOutput out = model.Forward(
      {.input_ids = batch.ids, .attention_mask = batch.mask,
       .token_type_ids = at::zeros_like(batch.ids)});
  const std::vector<int64_t> layers = {1, 2};
  const PointCloud cloud = GatherPoints(out.hidden_states, batch.mask, layers);
  const at::Tensor task_sum =
      c.squad ? SpanLossSum(out.start_logits, out.end_logits, batch.starts, batch.ends)
              : ClassificationLossSum(out.logits, batch.labels);
  absl::StatusOr<StepLoss> loss =
      ComputeStepLoss(task_sum, global_rows, cloud,
                      {.name = c.kind, .lambda = c.lambda, .zeta = c.zeta, .shrinkage = s0}, ranks);
  EXPECT_TRUE(loss.ok()) << loss.status();
  loss->objective.backward();
  return loss->total.item<double>();
}

// Every parameter's gradient (undefined where a parameter got none).
std::vector<at::Tensor> Gradients(torch::nn::Module& module) {
  std::vector<at::Tensor> grads;
  for (const at::Tensor& p : module.parameters()) {
    grads.push_back(p.grad().defined() ? p.grad().clone() : at::Tensor());
  }
  return grads;
}

// Relative error per parameter. The attention key biases' true gradient is exactly zero (a
// softmax ignores a constant added to every logit of a query), so theirs is rounding noise of
// ~1e-22; a floor of 1e-6 of the largest gradient anywhere keeps the ratio meaningful there.
void ExpectSameGradients(const std::vector<at::Tensor>& got,
                         const std::vector<at::Tensor>& expected,
                         const std::vector<std::string>& names) {
  double largest = 0.0;
  for (const at::Tensor& g : expected) {
    if (g.defined()) largest = std::max(largest, g.abs().max().item<double>());
  }
  ASSERT_GT(largest, 0.0);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t k = 0; k < got.size(); ++k) {
    ASSERT_EQ(got[k].defined(), expected[k].defined()) << names[k];
    if (!expected[k].defined()) continue;
    const double scale = std::max(expected[k].abs().max().item<double>(), 1e-6 * largest);
    const double error = (got[k] - expected[k]).abs().max().item<double>();
    EXPECT_LE(error / scale, 1e-10) << names[k] << ": |grad| " << scale;
  }
}

class GradientEquivalenceTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (TestGroup().size() != 2) GTEST_SKIP() << ::istar::testing::kNeedsTwoRanks;
  }
};

TEST_P(GradientEquivalenceTest, TwoRanksOnPartsOfABatchGiveTheWholeBatchGradient) {
  const Case& c = GetParam();
  const models::Head head =
      c.squad ? models::Head::kQuestionAnswering : models::Head::kSequenceClassification;
  const TokenBatch batch = RandomBatch(/*rows=*/7, /*cols=*/12, /*seed=*/5);  // 4 + 3 rows
  at::Generator gen = at::detail::createCPUGenerator(9);
  const at::Tensor sample =
      at::randn({300, 16}, gen, at::kDouble) * at::linspace(0.5, 2, 16, at::kDouble);
  const at::Tensor s0 = at::cov(sample.t());

  // The reference: one process, the whole batch.
  const std::unique_ptr<models::TaskModel> alone = TinyModel(head, 1);
  const double expected = Step(*alone, batch, batch.rows(), c, regularizers::LocalSum(), s0);
  const std::vector<at::Tensor> expected_grads = Gradients(alone->module());

  // The group, once per way of averaging: rank 1 starts from other weights, which the
  // broadcast must replace; the averager exists before the backward pass, whose hooks fill it.
  const std::vector<std::pair<const char*, GradientAverager::Options>> schedules = {
      {"overlapped", {.bucket_bytes = 16 << 10}},
      {"after backward",
       {.bucket_bytes = 16 << 10, .schedule = GradientAverager::Schedule::kAfterBackward}},
      {"overlapped, staged through host buffers",
       {.bucket_bytes = 16 << 10, .stage_through_host = true}}};
  for (const auto& [schedule, options] : schedules) {
    SCOPED_TRACE(schedule);
    const std::unique_ptr<models::TaskModel> member =
        TinyModel(head, TestGroup().rank() == 0 ? 1 : 77);
    ASSERT_TRUE(BroadcastModule(TestGroup(), member->module()).ok());
    const Shard shard = ShardOf(batch.rows(), TestGroup().rank(), TestGroup().size());
    EXPECT_EQ(shard.rows(), TestGroup().rank() == 0 ? 4 : 3);
    const std::unique_ptr<regularizers::CrossRankSum> ranks =
        regularizers::MakeCrossRankSum(TestGroup());
    // Small buckets, so that the gradients travel in several.
    GradientAverager averager(TestGroup(), member->module().parameters(), options);
    EXPECT_GT(averager.buckets(), 3);
    const double got =
        Step(*member, batch.Rows(shard.begin, shard.end), batch.rows(), c, *ranks, s0);
    ASSERT_TRUE(averager.Average().ok());
    EXPECT_NEAR(got, expected, 1e-12 * std::abs(expected));
    ExpectSameGradients(Gradients(member->module()), expected_grads,
                        alone->module().named_parameters().keys());
  }
}

INSTANTIATE_TEST_SUITE_P(Regularizers, GradientEquivalenceTest,
                         ::testing::Values(Case{"baseline", "baseline", 0, 0, false},
                                           Case{"cosreg", "cosreg", 0.7, 0, false},
                                           Case{"istar", "istar", -1.5, 0, false},
                                           Case{"istar_shrinkage", "istar", 2.0, 0.3, false},
                                           Case{"vicreg", "vicreg", 0.9, 0, false},
                                           Case{"uniformity", "uniformity", 0.7, 0, false},
                                           Case{"dispersion", "dispersion", -0.8, 0, false},
                                           Case{"sigreg", "sigreg", 0.5, 0, false},
                                           Case{"squad_baseline", "baseline", 0, 0, true},
                                           Case{"squad_istar", "istar", -1.5, 0.3, true}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.name);
                         });

// isotropy_scope: per_rank (Note [Per-rank isotropy scope], trainer/loss.cc): each rank's term
// is I-STAR's on its own shard's points, the logged regularizer is the mean of the two shards'
// terms (computed here with regularizers::IsoScoreStar on each shard's cloud), which is not the
// whole batch's term, and the averaged gradient is that of task + that mean, as one process
// computes it by differentiating the two shards' terms directly.
TEST(PerRankScope, RegularizerIsTheMeanOfTheShardsTermsAndTheGradientFollowsIt) {
  if (TestGroup().size() != 2) GTEST_SKIP() << ::istar::testing::kNeedsTwoRanks;
  const TokenBatch batch = RandomBatch(/*rows=*/7, /*cols=*/12, /*seed=*/5);  // 4 + 3 rows
  at::Generator gen = at::detail::createCPUGenerator(9);
  const at::Tensor s0 = at::cov(at::randn({300, 16}, gen, at::kDouble).t());
  const std::vector<int64_t> layers = {1, 2};
  for (const Case& c : {Case{"istar", "istar", -1.5, 0, false},
                        Case{"istar_shrinkage", "istar", 2.0, 0.3, false}}) {
    SCOPED_TRACE(c.name);
    const regularizers::IsoScoreStarOptions iso{.zeta = c.zeta, .shrinkage = s0};
    const auto term = [&](models::TaskModel& model, const TokenBatch& rows) {
      const models::ModelOutput out = model.Forward({.input_ids = rows.ids,
                                                     .attention_mask = rows.mask,
                                                     .token_type_ids = at::zeros_like(rows.ids)});
      const PointCloud cloud = GatherPoints(out.hidden_states, rows.mask, layers);
      return std::make_pair(ClassificationLossSum(out.logits, rows.labels),
                            c.lambda * (1.0 - *regularizers::IsoScoreStar(cloud.points, {}, iso)));
    };
    // The reference, in this process: each shard's term on its own points.
    const std::unique_ptr<models::TaskModel> alone =
        TinyModel(models::Head::kSequenceClassification, 1);
    alone->module().train();
    std::vector<at::Tensor> terms;
    at::Tensor reference = at::zeros({}, at::kDouble);
    for (int r = 0; r < 2; ++r) {
      const Shard shard = ShardOf(batch.rows(), r, 2);
      auto [task_sum, reg] = term(*alone, batch.Rows(shard.begin, shard.end));
      terms.push_back(reg.detach());
      reference = reference + task_sum / static_cast<double>(batch.rows()) + reg / 2.0;
    }
    reference.backward();
    const std::vector<at::Tensor> expected_grads = Gradients(alone->module());
    const double mean = ((terms[0] + terms[1]) / 2.0).item<double>();
    double global = 0.0;
    {
      at::NoGradGuard no_grad;
      global = term(*alone, batch).second.item<double>();
    }
    EXPECT_GT(std::abs(mean - global), 1e-6) << "the shards' mean must not be the global term";

    // The group: each rank on its shard, per-rank scope.
    const std::unique_ptr<models::TaskModel> member =
        TinyModel(models::Head::kSequenceClassification, TestGroup().rank() == 0 ? 1 : 77);
    ASSERT_TRUE(BroadcastModule(TestGroup(), member->module()).ok());
    member->module().train();
    GradientAverager averager(TestGroup(), member->module().parameters(),
                              {.bucket_bytes = 16 << 10});
    const std::unique_ptr<regularizers::CrossRankSum> ranks =
        regularizers::MakeCrossRankSum(TestGroup());
    const Shard shard = ShardOf(batch.rows(), TestGroup().rank(), TestGroup().size());
    const TokenBatch mine = batch.Rows(shard.begin, shard.end);
    const models::ModelOutput out = member->Forward({.input_ids = mine.ids,
                                                     .attention_mask = mine.mask,
                                                     .token_type_ids = at::zeros_like(mine.ids)});
    absl::StatusOr<StepLoss> loss =
        ComputeStepLoss(ClassificationLossSum(out.logits, mine.labels), batch.rows(),
                        GatherPoints(out.hidden_states, mine.mask, layers),
                        {.name = c.kind,
                         .lambda = c.lambda,
                         .zeta = c.zeta,
                         .shrinkage = s0,
                         .scope = sweeps::IsotropyScope::kPerRank},
                        *ranks);
    ASSERT_TRUE(loss.ok()) << loss.status();
    EXPECT_NEAR(loss->regularizer.item<double>(), mean, 1e-12 * std::abs(mean));
    EXPECT_NEAR(loss->total.item<double>() - loss->task.item<double>(), mean,
                1e-12 * std::abs(mean));
    loss->objective.backward();
    ASSERT_TRUE(averager.Average().ok());
    ExpectSameGradients(Gradients(member->module()), expected_grads,
                        alone->module().named_parameters().keys());
  }
}

// A rank with no rows (an epoch's tail) is left out of the per-rank mean: the regularizer is
// the other rank's term alone, on both ranks.
TEST(PerRankScope, ARankWithoutRowsIsLeftOutOfTheMean) {
  if (TestGroup().size() != 2) GTEST_SKIP() << ::istar::testing::kNeedsTwoRanks;
  const TokenBatch batch = RandomBatch(/*rows=*/1, /*cols=*/12, /*seed=*/6);  // 1 + 0 rows
  const std::vector<int64_t> layers = {1, 2};
  const std::unique_ptr<models::TaskModel> model =
      TinyModel(models::Head::kSequenceClassification, 1);
  const models::ModelOutput out = model->Forward({.input_ids = batch.ids,
                                                  .attention_mask = batch.mask,
                                                  .token_type_ids = at::zeros_like(batch.ids)});
  const PointCloud whole = GatherPoints(out.hidden_states, batch.mask, layers);
  const double expected =
      -1.5 * (1.0 - regularizers::IsoScoreStar(whole.points.detach(), {})->item<double>());
  const bool has_rows = TestGroup().rank() == 0;
  const PointCloud cloud =
      has_rows ? whole
               : PointCloud{.points = at::zeros({0, 16}, at::kDouble).requires_grad_(),
                            .tokens = 0,
                            .layers = layers,
                            .sequence = at::zeros({0}, at::kLong),
                            .sequences = 0};
  const at::Tensor task_sum =
      has_rows ? ClassificationLossSum(out.logits, batch.labels) : at::zeros({}, at::kDouble);
  const std::unique_ptr<regularizers::CrossRankSum> ranks =
      regularizers::MakeCrossRankSum(TestGroup());
  absl::StatusOr<StepLoss> loss = ComputeStepLoss(
      task_sum, 1, cloud,
      {.name = "istar", .lambda = -1.5, .scope = sweeps::IsotropyScope::kPerRank}, *ranks);
  ASSERT_TRUE(loss.ok()) << loss.status();
  EXPECT_NEAR(loss->regularizer.item<double>(), expected, 1e-12 * std::abs(expected));
  // Rank 0 carries the whole term (R / R' = 2), which the average halves back.
  if (has_rows) {
    EXPECT_NEAR((loss->objective - 2.0 * task_sum).item<double>(), 2.0 * expected,
                1e-12 * std::abs(expected));
  } else {
    EXPECT_EQ(loss->objective.item<double>(), 0.0);
  }
}

TEST(GradientAverager, AveragesDefinedGradientsAndKeepsMissingOnesMissing) {
  if (TestGroup().size() != 2) GTEST_SKIP() << ::istar::testing::kNeedsTwoRanks;
  const double r = TestGroup().rank();
  // everywhere: a gradient on both ranks; half: only on rank 1; nowhere: on neither.
  at::Tensor everywhere = at::zeros({3}, at::kDouble).requires_grad_();
  at::Tensor half = at::zeros({2, 2}, at::kDouble).requires_grad_();
  at::Tensor nowhere = at::zeros({4}, at::kDouble).requires_grad_();
  everywhere.mutable_grad() = at::full({3}, r + 1.0, at::kDouble);
  if (r == 1) half.mutable_grad() = at::full({2, 2}, 8.0, at::kDouble);
  // Reverse order: nowhere and half fill the first bucket (64 bytes), everywhere the second.
  GradientAverager averager(
      TestGroup(), {everywhere, half, nowhere},
      {.bucket_bytes = 64, .schedule = GradientAverager::Schedule::kAfterBackward});
  EXPECT_EQ(averager.buckets(), 2);
  ASSERT_TRUE(averager.Average().ok());
  EXPECT_TRUE(at::equal(everywhere.grad(), at::full({3}, 1.5, at::kDouble)));
  ASSERT_TRUE(half.grad().defined());
  EXPECT_TRUE(at::equal(half.grad(), at::full({2, 2}, 4.0, at::kDouble)));
  EXPECT_FALSE(nowhere.grad().defined());
  // 3 + 4 + 4 gradient elements and 3 flags, float64.
  EXPECT_EQ(averager.bytes_per_average(), (11 + 3) * 8);
}

// Overlapped averaging with a bucket that completes in another order on each rank: the first
// bucket's parameter has no gradient on rank 1, so rank 1 finishes its backward pass with only
// the second bucket complete. Starting that one first would pair it with rank 0's first bucket
// (other sizes: MPI fails, or the sums mix); Note [Bucket order] starts both in order.
TEST(GradientAverager, OverlappedBucketsStartInTheSameOrderOnEveryRank) {
  if (TestGroup().size() != 2) GTEST_SKIP() << ::istar::testing::kNeedsTwoRanks;
  for (const bool staged : {false, true}) {
    SCOPED_TRACE(staged ? "staged through host buffers" : "direct");
    const double r = TestGroup().rank();
    at::Tensor first_registered = at::zeros({5}, at::kDouble).requires_grad_();
    at::Tensor last_registered = at::zeros({3}, at::kDouble).requires_grad_();
    // Buckets in reverse registration order: [last_registered], then [first_registered].
    GradientAverager averager(TestGroup(), {first_registered, last_registered},
                              {.bucket_bytes = 32, .stage_through_host = staged});
    ASSERT_EQ(averager.buckets(), 2);
    at::Tensor loss = (first_registered * (r + 1.0)).sum();
    if (r == 0) loss = loss + (last_registered * 4.0).sum();
    loss.backward();
    ASSERT_TRUE(averager.Average().ok());
    EXPECT_TRUE(at::allclose(first_registered.grad(), at::full({5}, 1.5, at::kDouble)));
    EXPECT_TRUE(at::allclose(last_registered.grad(), at::full({3}, 2.0, at::kDouble)));
  }
}

// A frozen parameter (requires_grad false) keeps no gradient and does not hold its bucket back.
TEST(GradientAverager, FrozenParametersKeepNoGradient) {
  if (TestGroup().size() != 2) GTEST_SKIP() << ::istar::testing::kNeedsTwoRanks;
  at::Tensor trained = at::zeros({3}, at::kDouble).requires_grad_();
  at::Tensor frozen = at::zeros({2}, at::kDouble);
  GradientAverager averager(TestGroup(), {trained, frozen}, {.bucket_bytes = 1 << 10});
  ASSERT_EQ(averager.buckets(), 1);
  (trained * (TestGroup().rank() + 1.0)).sum().backward();
  ASSERT_TRUE(averager.Average().ok());
  EXPECT_TRUE(at::allclose(trained.grad(), at::full({3}, 1.5, at::kDouble)));
  EXPECT_FALSE(frozen.grad().defined());
}

// Gradient accumulation: the hooks of earlier backward passes only add; the step's mean is that
// of the summed micro-batch gradients.
TEST(GradientAverager, AccumulatesEarlierBackwardPassesBeforeAveraging) {
  if (TestGroup().size() != 2) GTEST_SKIP() << ::istar::testing::kNeedsTwoRanks;
  const double r = TestGroup().rank();
  at::Tensor w = at::zeros({4}, at::kDouble).requires_grad_();
  GradientAverager averager(TestGroup(), {w}, {.bucket_bytes = 1 << 10});
  averager.BeginBackward(/*last=*/false);
  (w * (r + 1.0)).sum().backward();  // rank 0: 1, rank 1: 2
  averager.BeginBackward(/*last=*/true);
  (w * 10.0).sum().backward();
  ASSERT_TRUE(averager.Average().ok());
  // ((1 + 10) + (2 + 10)) / 2
  EXPECT_TRUE(at::allclose(w.grad(), at::full({4}, 11.5, at::kDouble)));
  // The next step starts from empty buckets.
  w.mutable_grad().zero_();
  (w * (r + 1.0)).sum().backward();
  ASSERT_TRUE(averager.Average().ok());
  EXPECT_TRUE(at::allclose(w.grad(), at::full({4}, 1.5, at::kDouble)));
}

// The group's device decision, across two real processes on this machine.
TEST(SetUpGroupDevice, TwoRanksAgreeOnCpuAndRefuseCudaTogetherWithoutAGpu) {
  if (TestGroup().size() != 2) GTEST_SKIP() << ::istar::testing::kNeedsTwoRanks;
  absl::StatusOr<GroupDevice> cpu = SetUpGroupDevice(TestGroup(), "cpu");
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  EXPECT_EQ(cpu->device, "cpu");
  absl::StatusOr<RankLaunch> here = ReadRankLaunch();
  ASSERT_TRUE(here.ok());
  if (here->visible_gpus > 0) GTEST_SKIP() << "this machine has a GPU: the refusal needs none";
  const absl::Status cuda = SetUpGroupDevice(TestGroup(), "cuda").status();
  EXPECT_TRUE(absl::IsFailedPrecondition(cuda)) << cuda;
  EXPECT_TRUE(comm::IsAgreed(cuda)) << "both ranks must stop together: " << cuda;
  EXPECT_THAT(std::string(cuda.message()), ::testing::HasSubstr("rank 0 on host"));
}

// On GPUs: 2 ranks, each on its own GPU with its part of a batch and NCCL between them (the
// trainer's path: SetUpGroupDevice, hooks, stream-ordered collectives), give the gradient of one
// GPU on the whole batch, in float32 (relative error <= 1e-5). Runs where each rank sees two GPUs
// and NCCL is built in (the GPU verification, deploy/gpu/); skipped elsewhere, saying why.
TEST(GpuGroup, TwoGpusGiveTheOneGpuGradientInFloat32) {
  if (TestGroup().size() != 2) GTEST_SKIP() << ::istar::testing::kNeedsTwoRanks;
  absl::StatusOr<RankLaunch> here = ReadRankLaunch();
  ASSERT_TRUE(here.ok());
  if (here->visible_gpus < 2) {
    GTEST_SKIP() << "needs 2 GPUs visible to each rank; this LibTorch sees " << here->visible_gpus;
  }
  absl::StatusOr<GroupDevice> device = SetUpGroupDevice(TestGroup(), "cuda");
  ASSERT_TRUE(device.ok()) << device.status();
  if (device->tensors == nullptr) GTEST_SKIP() << "built without NCCL";
  const at::Device gpu(device->device);
  comm::Communicator& nccl = *device->tensors;
  const TokenBatch cpu_batch = RandomBatch(/*rows=*/8, /*cols=*/12, /*seed=*/5);
  const auto on_gpu = [&](const TokenBatch& b) {
    return TokenBatch{b.ids.to(gpu), b.mask.to(gpu), b.labels.to(gpu), b.starts.to(gpu),
                      b.ends.to(gpu)};
  };
  const TokenBatch batch = on_gpu(cpu_batch);
  at::Generator gen = at::detail::createCPUGenerator(9);
  const at::Tensor s0 = at::cov((at::randn({300, 16}, gen, at::kDouble)).t()).to(gpu);
  for (const Case& c :
       {Case{"baseline", "baseline", 0, 0, false}, Case{"cosreg", "cosreg", 0.7, 0, false},
        Case{"istar_shrinkage", "istar", 2.0, 0.3, false}}) {
    SCOPED_TRACE(c.name);
    const auto model_on_gpu = [&](uint64_t seed) {
      std::unique_ptr<models::TaskModel> model =
          TinyModel(models::Head::kSequenceClassification, seed);
      model->module().to(at::kFloat);
      model->module().to(gpu);
      return model;
    };
    const std::unique_ptr<models::TaskModel> alone = model_on_gpu(1);
    Step(*alone, batch, batch.rows(), c, regularizers::LocalSum(), s0);
    const std::vector<at::Tensor> expected = Gradients(alone->module());
    const std::unique_ptr<models::TaskModel> member =
        model_on_gpu(TestGroup().rank() == 0 ? 1 : 77);
    ASSERT_TRUE(BroadcastModule(nccl, member->module()).ok());
    const std::unique_ptr<regularizers::CrossRankSum> ranks = regularizers::MakeCrossRankSum(nccl);
    GradientAverager averager(nccl, member->module().parameters(), {.bucket_bytes = 16 << 10});
    const Shard shard = ShardOf(batch.rows(), TestGroup().rank(), TestGroup().size());
    Step(*member, batch.Rows(shard.begin, shard.end), batch.rows(), c, *ranks, s0);
    ASSERT_TRUE(averager.Average().ok());
    const std::vector<at::Tensor> got = Gradients(member->module());
    double largest = 0.0;
    double error = 0.0;
    for (size_t k = 0; k < expected.size(); ++k) {
      if (!expected[k].defined()) continue;
      largest = std::max(largest, expected[k].abs().max().item<double>());
      error = std::max(error, (got[k] - expected[k]).abs().max().item<double>());
    }
    EXPECT_LE(error / largest, 1e-5);
  }
}

// ---------------------------------------------------------------------------------------------
// Whole trials.

// A folder every rank sees (rank 0 makes it and broadcasts its name), with a dropout-free tiny
// BERT folder and the demo tasks.
class GroupTrialTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (TestGroup().size() != 2) return;
    std::array<char, 512> name{};
    if (TestGroup().rank() == 0) {
      const std::string path =
          (fs::temp_directory_path() / absl::StrCat("istar_dp_test_", ::getpid())).string();
      std::copy(path.begin(), path.end(), name.begin());
      fs::create_directories(fs::path(path) / "model");
      ASSERT_TRUE(tasks::WriteDemoVocab((fs::path(path) / "model" / "vocab.txt").string()).ok());
      // 65 training examples in batches of 16: the last batch has one row, so rank 1 has none.
      ASSERT_TRUE(tasks::WriteDemoSentimentTask((fs::path(path) / "sst2").string(),
                                                {.seed = 3, .train_examples = 65, .dev_examples = 40})
                      .ok());
      ASSERT_TRUE(tasks::WriteDemoQaTask((fs::path(path) / "squad").string(),
                                         {.seed = 3, .train_examples = 40, .dev_examples = 20})
                      .ok());
      std::ifstream vocab(fs::path(path) / "model" / "vocab.txt");
      int64_t lines = 0;
      for (std::string line; std::getline(vocab, line);) ++lines;
      models::ModelConfig config = TinyConfig();
      config.vocab_size = lines;
      config.max_position_embeddings = 64;
      std::ofstream(fs::path(path) / "model" / "config.json") << models::ModelConfigToJson(config);
    }
    ASSERT_TRUE(TestGroup().Broadcast(std::as_writable_bytes(std::span<char>(name)), 0).ok());
    root_ = new fs::path(name.data());
  }
  static void TearDownTestSuite() {
    if (root_ == nullptr) return;
    (void)TestGroup().Barrier();
    std::error_code error;
    if (TestGroup().rank() == 0) fs::remove_all(*root_, error);
    delete root_;
    root_ = nullptr;
  }
  void SetUp() override {
    if (TestGroup().size() != 2) GTEST_SKIP() << ::istar::testing::kNeedsTwoRanks;
  }

  static sweeps::TrialSpec Trial(const std::string& task, const std::string& regularizer,
                                 int64_t shrinkage_points = 100000) {
    const std::string yaml = absl::StrCat(
        "name: dp\nmodels:\n  tiny: ", (*root_ / "model").string(), "\ntasks:\n  ", task, ": ",
        (*root_ / task).string(), "\ntraining:\n  max_seq_length: 32\n  isotropy_every_steps: 2\n",
        "  shrinkage_points: ", shrinkage_points,
        "\ngrid:\n  batch_size: [16]\n  epochs: [2]\n  learning_rate: [3e-3]\n  seed: [4]\n"
        "  regularizers:\n    - ",
        regularizer, "\n");
    absl::StatusOr<sweeps::SweepSpec> sweep = sweeps::ParseSweep(yaml, "dp.yaml");
    EXPECT_TRUE(sweep.ok()) << sweep.status();
    return sweep->trials.at(0);
  }

  // A path under the shared folder, the same on every rank.
  static std::string Path(const std::string& name) { return (*root_ / name).string(); }

  // Runs `trial` in one process (every rank runs its own copy) and returns its store's path.
  static std::string RunAlone(const sweeps::TrialSpec& trial, const std::string& name) {
    const std::string db = Path(absl::StrCat(name, "_alone_rank", TestGroup().rank(), ".db"));
    absl::StatusOr<TrialResult> result =
        RunTrial(trial, {.db_path = db, .progress = false, .float64 = true});
    EXPECT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->status, TrialOutcome::kDone) << result->error;
    return db;
  }

  // Expects the trial's rows in two stores to match: the same keys, values to `tolerance`
  // relative (exactly for accuracy-like scores).
  static void ExpectSameRows(const std::string& expected_db, const std::string& got_db,
                             const std::string& trial_id) {
    auto expected_store = db::Store::Open(expected_db, {.mode = db::OpenMode::kReadOnly});
    auto got_store = db::Store::Open(got_db, {.mode = db::OpenMode::kReadOnly});
    ASSERT_TRUE(expected_store.ok() && got_store.ok());
    auto expected = (*expected_store)->ExportTrajectories(trial_id);
    auto got = (*got_store)->ExportTrajectories(trial_id);
    ASSERT_TRUE(expected.ok() && got.ok());
    ASSERT_EQ(got->metrics.size(), expected->metrics.size());
    ASSERT_GT(expected->metrics.size(), 20u);
    for (size_t k = 0; k < expected->metrics.size(); ++k) {
      const db::MetricRow& e = expected->metrics[k];
      const db::MetricRow& g = got->metrics[k];
      ASSERT_EQ(std::tie(g.step, g.split, g.name), std::tie(e.step, e.split, e.name));
      EXPECT_NEAR(g.value, e.value, 1e-10 * std::max(1.0, std::abs(e.value)))
          << e.split << " " << e.name << " at step " << e.step;
    }
    ASSERT_EQ(got->isotropy.size(), expected->isotropy.size());
    ASSERT_GT(expected->isotropy.size(), 10u);
    for (size_t k = 0; k < expected->isotropy.size(); ++k) {
      const db::IsotropyRow& e = expected->isotropy[k];
      const db::IsotropyRow& g = got->isotropy[k];
      ASSERT_EQ(std::tie(g.step, g.layer), std::tie(e.step, e.layer));
      EXPECT_NEAR(g.isoscore_star, e.isoscore_star, 1e-10) << "step " << e.step;
      EXPECT_NEAR(g.isoscore, e.isoscore, 1e-10) << "step " << e.step;
      EXPECT_NEAR(g.avg_cosine, e.avg_cosine, 1e-10) << "step " << e.step;
    }
    auto expected_record = (*expected_store)->GetTrial(trial_id);
    auto got_record = (*got_store)->GetTrial(trial_id);
    ASSERT_TRUE(expected_record.ok() && got_record.ok());
    EXPECT_EQ(got_record->status, db::TrialStatus::kDone);
    ASSERT_EQ(got_record->final_results.size(), expected_record->final_results.size());
    for (size_t k = 0; k < expected_record->final_results.size(); ++k) {
      EXPECT_EQ(got_record->final_results[k].name, expected_record->final_results[k].name);
      EXPECT_NEAR(got_record->final_results[k].value, expected_record->final_results[k].value,
                  1e-10);
    }
  }

  // Trains `trial` on the group and compares its rows with a one-process run's.
  static void ExpectGroupMatchesOneProcess(const sweeps::TrialSpec& trial, const std::string& name) {
    const std::string alone = RunAlone(trial, name);
    const std::string group_db = Path(absl::StrCat(name, "_group.db"));
    absl::StatusOr<TrialResult> result =
        RunTrial(trial, {.db_path = group_db,
                         .checkpoint_dir = Path(absl::StrCat(name, "_checkpoints")),
                         .progress = false,
                         .float64 = true,
                         .group = &TestGroup()});
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->status, TrialOutcome::kDone) << result->error;
    if (TestGroup().rank() == 0) ExpectSameRows(alone, group_db, trial.id);
    ASSERT_TRUE(TestGroup().Barrier().ok());
  }

  static fs::path* root_;
};

fs::path* GroupTrialTest::root_ = nullptr;

TEST_F(GroupTrialTest, BaselineWithAnEmptyRankInTheLastBatchMatchesOneProcess) {
  ExpectGroupMatchesOneProcess(Trial("sst2", "baseline"), "baseline");
}

TEST_F(GroupTrialTest, IStarWithBindingShrinkageBudgetMatchesOneProcess) {
  // 300 points: S0 comes from part of the first batch only, a different part on each rank.
  ExpectGroupMatchesOneProcess(Trial("sst2", "istar: {lambda: [-0.5], zeta: [0.3]}", 300),
                               "istar");
}

TEST_F(GroupTrialTest, CosRegOnSquadMatchesOneProcess) {
  ExpectGroupMatchesOneProcess(Trial("squad", "cosreg: {lambda: [0.5]}"), "cosreg_squad");
}

TEST_F(GroupTrialTest, StopOnOneRankStopsTheGroupAndResumeMatchesOneProcess) {
  const sweeps::TrialSpec trial = Trial("sst2", "istar: {lambda: [-0.5], zeta: [0.0]}");
  const std::string alone = RunAlone(trial, "resume");
  const std::string group_db = Path("resume_group.db");
  const std::string checkpoints = Path("resume_checkpoints");
  int polls = 0;
  // Only rank 1 asks to stop, in the second epoch (after the first epoch's checkpoint).
  absl::StatusOr<TrialResult> stopped =
      RunTrial(trial, {.db_path = group_db,
                       .checkpoint_dir = checkpoints,
                       .progress = false,
                       .should_stop = [&] { return TestGroup().rank() == 1 && ++polls > 7; },
                       .float64 = true,
                       .group = &TestGroup()});
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(stopped->status, TrialOutcome::kStopped);
  EXPECT_EQ(stopped->steps, 7);
  absl::StatusOr<TrialResult> resumed =
      RunTrial(trial, {.db_path = group_db,
                       .checkpoint_dir = checkpoints,
                       .progress = false,
                       .float64 = true,
                       .group = &TestGroup()});
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->status, TrialOutcome::kDone);
  EXPECT_EQ(resumed->steps, 10);
  if (TestGroup().rank() == 0) ExpectSameRows(alone, group_db, trial.id);
  ASSERT_TRUE(TestGroup().Barrier().ok());
}

// A GPU group's split of the traffic (docs/training.md, "Devices"), on CPUs with a second MPI
// communicator standing in for NCCL: every tensor collective (weights, gradient buckets, the
// regularizer's statistics, S0, evaluation) goes over RunOptions::tensor_group, and the host
// group carries only the group's small decisions (flags, resume points, generator states). The
// rows stay those of one process.
TEST_F(GroupTrialTest, TensorsGoOverTheTensorGroupAndDecisionsOverTheHostGroup) {
  const sweeps::TrialSpec trial = Trial("sst2", "istar: {lambda: [-0.5], zeta: [0.3]}");
  const std::string alone = RunAlone(trial, "split");
  absl::StatusOr<std::unique_ptr<comm::Communicator>> second =
      comm::CreateMpiCommunicator(::istar::testing::TestSession());
  ASSERT_TRUE(second.ok()) << second.status();
  comm::CountingCommunicator host(TestGroup());
  comm::CountingCommunicator tensors(**second);
  const std::string group_db = Path("split_group.db");
  absl::StatusOr<TrialResult> result = RunTrial(trial, {.db_path = group_db,
                                                        .checkpoint_dir = Path("split_checkpoints"),
                                                        .progress = false,
                                                        .float64 = true,
                                                        .group = &host,
                                                        .tensor_group = &tensors});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->status, TrialOutcome::kDone) << result->error;
  // The model's float64 gradients alone are more than the host group's largest buffer (the
  // CPU generator's state: 5,056 bytes) many times over.
  EXPECT_GT(tensors.allreduce_bytes(), 100 * host.largest_bytes());
  EXPECT_LE(host.largest_bytes(), 8 << 10);
  EXPECT_GT(tensors.largest_bytes(), 64 << 10);
  if (TestGroup().rank() == 0) ExpectSameRows(alone, group_db, trial.id);
  ASSERT_TRUE(TestGroup().Barrier().ok());
}

TEST_F(GroupTrialTest, ErrorOnRankZeroBeforeTrainingIsEveryRanksError) {
  // The trial is done in rank 0's store: rank 0 refuses, and rank 1 must not wait for it.
  const sweeps::TrialSpec trial = Trial("sst2", "baseline");
  RunAlone(trial, "refused");
  absl::StatusOr<TrialResult> again = RunTrial(
      trial, {.db_path = Path("refused_alone_rank0.db"), .progress = false, .float64 = true,
              .group = &TestGroup()});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status().message(), ::testing::HasSubstr("rank 0: trial"));
  EXPECT_TRUE(comm::IsAgreed(again.status()));
}

}  // namespace
}  // namespace istar::trainer

// Training steps per second with each regularizer, on one tiny BERT and one fixed batch: forward,
// loss (task + regularizer over the union of all layers' real tokens), backward, gradient
// clipping and an AdamW step. The goal (issue 5): an I-STAR step costs at most 1.10x a baseline
// step, since IsoScore* needs one d x d covariance and no eigendecomposition.
//
//   build/bench/istar_train_bench --benchmark_min_time=2
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>
#include <torch/nn/module.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>

#include <memory>

#include "models/config.h"
#include "models/model.h"
#include "sweeps/sweep.h"
#include "trainer/loss.h"

namespace {

using istar::sweeps::Regularizer;

constexpr int64_t kBatch = 32;
constexpr int64_t kSeq = 64;
constexpr int64_t kVocab = 1000;

istar::models::ModelConfig BenchConfig() {
  istar::models::ModelConfig config =
      istar::models::DefaultConfig(istar::models::Architecture::kBert);
  config.vocab_size = kVocab;
  config.hidden_size = 128;
  config.embedding_size = 128;  // BERT: equal to hidden_size
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.intermediate_size = 512;
  config.max_position_embeddings = 128;
  return config;
}

void BM_TrainStep(benchmark::State& state, Regularizer kind) {
  at::manual_seed(0);
  auto model =
      istar::models::CreateModel(BenchConfig(), istar::models::Head::kSequenceClassification, 2, 0);
  if (!model.ok()) {
    state.SkipWithError(model.status().ToString().c_str());
    return;
  }
  torch::nn::Module& module = (*model)->module();
  module.train();
  torch::optim::AdamW optimizer(module.parameters(),
                                torch::optim::AdamWOptions(1e-4).weight_decay(0.0));
  // Sequences of random lengths 32..64, padded to 64: dynamic padding's typical mask.
  const at::Tensor ids = at::randint(5, kVocab, {kBatch, kSeq}, at::kLong);
  const at::Tensor lengths = at::randint(kSeq / 2, kSeq + 1, {kBatch, 1}, at::kLong);
  const at::Tensor mask = (at::arange(kSeq, at::kLong).unsqueeze(0) < lengths).to(at::kLong);
  const at::Tensor labels = at::randint(0, 2, {kBatch}, at::kLong);
  const istar::models::Batch batch{.input_ids = ids, .attention_mask = mask};
  const std::vector<int64_t> layers = {1, 2};
  istar::trainer::RegularizerSettings regularizer{.kind = kind, .lambda = -1.0};
  if (kind == Regularizer::kIStar) {
    regularizer.zeta = 0.2;
    const at::Tensor sample = at::randn({4096, 128}, at::kDouble);
    regularizer.shrinkage = sample.t().mm(sample) / 4095.0;
  }
  for (auto _ : state) {
    const istar::models::ModelOutput out = (*model)->Forward(batch);
    istar::trainer::PointCloud cloud;
    if (kind != Regularizer::kBaseline) {
      cloud = istar::trainer::GatherPoints(out.hidden_states, mask, layers);
    }
    auto loss = istar::trainer::ComputeLoss(out.logits, labels, cloud, regularizer);
    if (!loss.ok()) {
      state.SkipWithError(loss.status().ToString().c_str());
      return;
    }
    optimizer.zero_grad();
    loss->total.backward();
    torch::nn::utils::clip_grad_norm_(module.parameters(), 1.0);
    optimizer.step();
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["steps/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

BENCHMARK_CAPTURE(BM_TrainStep, baseline, Regularizer::kBaseline)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_TrainStep, cosreg, Regularizer::kCosReg)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_TrainStep, istar, Regularizer::kIStar)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();

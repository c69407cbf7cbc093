// Training steps per second with each regularizer, on one BERT and one fixed batch: forward,
// loss (task + regularizer over the union of all layers' real tokens), backward, gradient
// clipping and an AdamW step. The goal (issue 5): an I-STAR step costs at most 1.10x a baseline
// step, since IsoScore* needs one d x d covariance and no eigendecomposition.
//
//   build/bench/istar_train_bench --benchmark_min_time=2
//
// The GPU comparison of issue 8 (deploy/gpu/run.sh) sets, through the environment:
//   ISTAR_BENCH_MODEL=bert-base   12 layers, hidden 768, 12 heads, intermediate 3072, vocabulary
//                                 30,522, batch 32 x sequence 128 (default: a tiny BERT, 32 x 64)
//   ISTAR_BENCH_DEVICE=cuda       the model, batch and optimizer on the GPU; each step ends by
//                                 reading the loss back, which waits for the GPU
//   ISTAR_BENCH_PRECISION=bf16    the forward in CUDA autocast (trainer/autocast.h); the
//                                 regularizers in float32, as the published code does
// Its counters: steps/s and tokens/s (padding included, as transformers' throughput counts it).
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>
#include <torch/nn/module.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>

#include <cstdlib>
#include <memory>
#include <numeric>
#include <string>

#include "models/config.h"
#include "models/model.h"
#include "sweeps/sweep.h"
#include "trainer/autocast.h"
#include "trainer/loss.h"

namespace {

std::string Env(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value == nullptr ? fallback : value;
}

struct BenchShape {
  istar::models::ModelConfig config;
  int64_t batch = 32;
  int64_t seq = 64;
};

BenchShape Shape() {
  BenchShape shape;
  shape.config = istar::models::DefaultConfig(istar::models::Architecture::kBert);
  istar::models::ModelConfig& config = shape.config;
  if (Env("ISTAR_BENCH_MODEL", "tiny") == "bert-base") {
    config.vocab_size = 30522;
    config.hidden_size = 768;
    config.embedding_size = 768;
    config.num_hidden_layers = 12;
    config.num_attention_heads = 12;
    config.intermediate_size = 3072;
    config.max_position_embeddings = 512;
    shape.seq = 128;
    return shape;
  }
  config.vocab_size = 1000;
  config.hidden_size = 128;
  config.embedding_size = 128;  // BERT: equal to hidden_size
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.intermediate_size = 512;
  config.max_position_embeddings = 128;
  return shape;
}

void BM_TrainStep(benchmark::State& state, std::string kind) {
  const BenchShape shape = Shape();
  const at::Device device(Env("ISTAR_BENCH_DEVICE", "cpu"));
  const bool bf16 = Env("ISTAR_BENCH_PRECISION", "fp32") == "bf16";
  at::manual_seed(0);
  auto model = istar::models::CreateModel(shape.config,
                                          istar::models::Head::kSequenceClassification, 2, 0);
  if (!model.ok()) {
    state.SkipWithError(model.status().ToString().c_str());
    return;
  }
  torch::nn::Module& module = (*model)->module();
  module.to(device);
  module.train();
  torch::optim::AdamW optimizer(module.parameters(),
                                torch::optim::AdamWOptions(1e-4).weight_decay(0.0));
  // Sequences of random lengths seq/2..seq, padded to seq: dynamic padding's typical mask.
  const int64_t batch_size = shape.batch;
  const int64_t seq = shape.seq;
  const at::Tensor ids =
      at::randint(5, shape.config.vocab_size, {batch_size, seq}, at::kLong).to(device);
  const at::Tensor lengths = at::randint(seq / 2, seq + 1, {batch_size, 1}, at::kLong);
  const at::Tensor mask =
      (at::arange(seq, at::kLong).unsqueeze(0) < lengths).to(at::kLong).to(device);
  const at::Tensor labels = at::randint(0, 2, {batch_size}, at::kLong).to(device);
  const istar::models::Batch batch{.input_ids = ids, .attention_mask = mask};
  // I-STAR on the union of every layer, CosReg on the last one: the paper's settings.
  std::vector<int64_t> layers(shape.config.num_hidden_layers);
  std::iota(layers.begin(), layers.end(), 1);
  if (kind == "cosreg") layers = {shape.config.num_hidden_layers};
  istar::trainer::RegularizerSettings regularizer{.name = kind, .lambda = -1.0};
  if (kind == "istar") {
    regularizer.zeta = 0.2;
    const at::Tensor sample = at::randn({4096, shape.config.hidden_size}, at::kDouble);
    regularizer.shrinkage = (sample.t().mm(sample) / 4095.0).to(device);
  }
  for (auto _ : state) {
    istar::models::ModelOutput out;
    {
      istar::trainer::AutocastGuard autocast(at::kBFloat16, bf16);
      out = (*model)->Forward(batch);
    }
    istar::trainer::PointCloud cloud;
    if (kind != "baseline") {
      cloud = istar::trainer::GatherPoints(out.hidden_states, mask, layers);
      cloud.points = cloud.points.to(at::kFloat);
    }
    auto loss = istar::trainer::ComputeLoss(out.logits.to(at::kFloat), labels, cloud, regularizer);
    if (!loss.ok()) {
      state.SkipWithError(loss.status().ToString().c_str());
      return;
    }
    optimizer.zero_grad();
    loss->total.backward();
    torch::nn::utils::clip_grad_norm_(module.parameters(), 1.0);
    optimizer.step();
    benchmark::DoNotOptimize(loss->total.item<double>());  // waits for a GPU
  }
  state.SetItemsProcessed(state.iterations() * batch_size);
  state.counters["steps/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["tokens/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * batch_size * seq), benchmark::Counter::kIsRate);
}

BENCHMARK_CAPTURE(BM_TrainStep, baseline, std::string("baseline"))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_TrainStep, cosreg, std::string("cosreg"))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_TrainStep, istar, std::string("istar"))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();

// The three architectures on a GPU (issue 8): each model moved to CUDA gives, in float32, the
// hidden states and logits it gives on the CPU, and in bf16 autocast (trainer/autocast.h, as
// training uses it) logits within bf16's precision. Skipped, saying so, where LibTorch sees no
// CUDA device (every CI machine; deploy/gpu/run.sh runs them).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>
#include <torch/cuda.h>
#include <torch/nn/module.h>

#include "models/config.h"
#include "models/model.h"
#include "trainer/autocast.h"

namespace istar::models {
namespace {

ModelConfig SmallConfig(Architecture architecture) {
  ModelConfig c = DefaultConfig(architecture);
  c.vocab_size = 100;
  c.hidden_size = 64;
  c.embedding_size = architecture == Architecture::kAlbert ? 32 : 64;
  c.num_hidden_layers = 3;
  c.num_attention_heads = 4;
  c.intermediate_size = 128;
  c.max_position_embeddings = 32;
  return c;
}

double MaxRelativeDifference(const at::Tensor& got, const at::Tensor& want) {
  const at::Tensor g = got.to(at::kCPU, at::kDouble);
  const at::Tensor w = want.to(at::kCPU, at::kDouble);
  return ((g - w).abs().max() / w.abs().max().clamp_min(1e-12)).item<double>();
}

class ModelsOnCuda : public ::testing::TestWithParam<Architecture> {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) {
      GTEST_SKIP() << "no CUDA device visible to LibTorch (a CPU build, or no GPU)";
    }
  }
};

TEST_P(ModelsOnCuda, ForwardOnTheGpuEqualsTheCpuInFloat32) {
  auto model = CreateModel(SmallConfig(GetParam()), Head::kSequenceClassification, 3, 5);
  ASSERT_TRUE(model.ok()) << model.status();
  (*model)->module().eval();
  at::manual_seed(3);
  const at::Tensor ids = at::randint(5, 100, {4, 24}, at::kLong);
  at::Tensor mask = at::ones({4, 24}, at::kLong);
  mask.select(0, 1).slice(0, 16).zero_();  // one padded sequence
  const ModelOutput cpu = (*model)->Forward({.input_ids = ids, .attention_mask = mask});
  (*model)->module().to(at::Device(at::kCUDA, 0));
  const ModelOutput gpu = (*model)->Forward(
      {.input_ids = ids.cuda(), .attention_mask = mask.cuda()});
  ASSERT_EQ(gpu.hidden_states.size(), cpu.hidden_states.size());
  for (size_t layer = 0; layer < cpu.hidden_states.size(); ++layer) {
    EXPECT_LT(MaxRelativeDifference(gpu.hidden_states[layer], cpu.hidden_states[layer]), 1e-4)
        << "layer " << layer;
  }
  EXPECT_LT(MaxRelativeDifference(gpu.logits, cpu.logits), 1e-4);

  // bf16 autocast, as a bf16 trial's forward: 8 bits of mantissa, so logits within a few
  // percent after 3 layers.
  ModelOutput mixed;
  {
    trainer::AutocastGuard autocast(at::kBFloat16, true);
    mixed = (*model)->Forward({.input_ids = ids.cuda(), .attention_mask = mask.cuda()});
  }
  EXPECT_LT(MaxRelativeDifference(mixed.logits, cpu.logits), 5e-2);
}

INSTANTIATE_TEST_SUITE_P(Architectures, ModelsOnCuda,
                         ::testing::Values(Architecture::kBert, Architecture::kAlbert,
                                           Architecture::kDistilBert),
                         [](const ::testing::TestParamInfo<Architecture>& info) {
                           switch (info.param) {
                             case Architecture::kBert: return std::string("Bert");
                             case Architecture::kAlbert: return std::string("Albert");
                             default: return std::string("DistilBert");
                           }
                         });

}  // namespace
}  // namespace istar::models

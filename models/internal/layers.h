// Building blocks shared by the three encoders: activations, the additive attention mask,
// multi-head attention, registration of numbered sub-modules. Included only by LibTorch .cc
// files of models/.
#ifndef ISTAR_MODELS_INTERNAL_LAYERS_H_
#define ISTAR_MODELS_INTERNAL_LAYERS_H_

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/version.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace istar::models::internal {

// The activations config.json may name (ValidateConfig admits no others). "gelu" is the exact
// x * Phi(x); "gelu_new" (ALBERT's default) is the tanh approximation.
inline at::Tensor Activate(const at::Tensor& x, const std::string& name) {
  if (name == "gelu") return at::gelu(x);
  if (name == "gelu_new") return at::gelu(x, "tanh");
  TORCH_CHECK(name == "relu", "unknown activation ", name);
  return at::relu(x);
}

// The most negative finite value of `dtype`, what transformers adds to the scores of padded keys.
inline double MostNegative(at::ScalarType dtype) {
  switch (dtype) {
    case at::kDouble:
      return std::numeric_limits<double>::lowest();
    case at::kHalf:
      return -65504.0;
    case at::kBFloat16:
      return -3.3895313892515355e38;
    default:
      return std::numeric_limits<float>::lowest();
  }
}

// [B, T] mask of 1 (token) / 0 (padding) -> [B, 1, 1, T] additive mask of 0 / MostNegative, to
// be added to attention scores [B, heads, T, T]. Padded keys get (numerically) zero weight;
// padded queries are still computed, as in transformers.
inline at::Tensor AdditiveMask(const at::Tensor& attention_mask, at::ScalarType dtype) {
  const at::Tensor keep = attention_mask.to(dtype);
  return ((1.0 - keep) * MostNegative(dtype)).unsqueeze(1).unsqueeze(2);
}

// Note [Fused attention]
// On a GPU, with a LibTorch that has it (2.0 and later), attention goes through
// at::scaled_dot_product_attention, which picks a fused kernel (memory-efficient or flash
// attention) and never materializes the [B, heads, T, T] probabilities for the backward pass: the
// speed and memory BERT-base fine-tuning expects. The mask is passed as booleans (true: a real
// key), which is the additive mask's meaning and works whatever dtype autocast gives the scores.
// Its dropout draws other masks than the exact path's (the same distribution). On the CPU, and with
// LibTorch 1.13, the exact path below runs: the one the CPU tests compare against transformers'
// formulas and one process against a worker group.
// Scaled dot-product attention of projected queries, keys and values [B, T, H] split into
// `heads` heads; returns the context [B, T, H] before the output projection.
inline at::Tensor Attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                         const at::Tensor& additive_mask, int64_t heads, double dropout,
                         bool training) {
  const int64_t batch = q.size(0), tokens = q.size(1), hidden = q.size(2);
  const auto split = [&](const at::Tensor& x) {
    return x.view({batch, tokens, heads, hidden / heads}).transpose(1, 2);
  };
#if TORCH_VERSION_MAJOR >= 2
  if (q.is_cuda()) {
    const at::Tensor keep = additive_mask.eq(0.0);  // [B, 1, 1, T] bool
    return at::scaled_dot_product_attention(split(q), split(k), split(v), keep,
                                            training ? dropout : 0.0, /*is_causal=*/false)
        .transpose(1, 2)
        .reshape({batch, tokens, hidden});
  }
#endif
  at::Tensor scores = at::matmul(split(q), split(k).transpose(-1, -2)) /
                      std::sqrt(static_cast<double>(hidden / heads));
  const at::Tensor probs = at::dropout(at::softmax(scores + additive_mask, -1), dropout, training);
  return at::matmul(probs, split(v)).transpose(1, 2).reshape({batch, tokens, hidden});
}

// Registers make(0), ..., make(n - 1) as children "0", ..., "n-1" of a new child `name` of
// `parent`, which gives them transformers' ModuleList names ("layer.3.attention...").
template <typename T, typename Make>
std::vector<std::shared_ptr<T>> RegisterList(torch::nn::Module& parent, const std::string& name,
                                             int64_t n, Make make) {
  auto list = parent.register_module(name, std::make_shared<torch::nn::Module>());
  std::vector<std::shared_ptr<T>> items;
  for (int64_t i = 0; i < n; ++i) {
    items.push_back(list->register_module(std::to_string(i), make(i)));
  }
  return items;
}

// input_ids [B, T] -> position ids 0..T-1 [1, T] on the same device.
inline at::Tensor PositionIds(const at::Tensor& input_ids) {
  return at::arange(input_ids.size(1), input_ids.options().dtype(at::kLong)).unsqueeze(0);
}

}  // namespace istar::models::internal

#endif  // ISTAR_MODELS_INTERNAL_LAYERS_H_

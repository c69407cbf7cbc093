#include "trainer/internal/optimizer.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>

#include <string>
#include <utility>

namespace istar::trainer::internal {
namespace {

// AdamW's moments and epsilon, as the paper's published code sets them (docs/training.md,
// "Optimizer and schedule").
constexpr double kBeta1 = 0.9;
constexpr double kBeta2 = 0.999;
constexpr double kAdamEps = 1e-6;

// LayerNorm weights and biases take no weight decay, as in transformers' examples. Parameter
// names are Hugging Face's: "LayerNorm" (BERT, ALBERT), "*layer_norm" (DistilBERT, ALBERT).
bool TakesWeightDecay(const std::string& name) {
  const bool bias = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
  return !bias && name.find("LayerNorm") == std::string::npos &&
         name.find("layer_norm") == std::string::npos;
}

}  // namespace

std::unique_ptr<torch::optim::AdamW> MakeOptimizer(torch::nn::Module& module, double lr,
                                                   double weight_decay) {
  std::vector<at::Tensor> decay;
  std::vector<at::Tensor> no_decay;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    (TakesWeightDecay(item.key()) ? decay : no_decay).push_back(item.value());
  }
  auto options = [&](double wd) {
    return torch::optim::AdamWOptions(lr).betas({kBeta1, kBeta2}).eps(kAdamEps).weight_decay(wd);
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(options(weight_decay)));
  groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(options(0.0)));
  return std::make_unique<torch::optim::AdamW>(std::move(groups), options(weight_decay));
}

// Note [Gradient clipping]
// By default every step clips the global gradient norm to 1.0, as transformers' Trainer does by
// default (its max_grad_norm); before training.max_grad_norm existed this was a constant, which
// changes nothing for a healthy run and keeps a large negative I-STAR lambda from blowing up the
// first steps. For a protocol without clipping (the I-STAR paper's published code uses a constant
// learning rate and AdamW alone), `max_grad_norm: off` skips it altogether: not a clip to
// infinity, the norm is not even computed. The norm is
// over every parameter's gradient at once, after the gradients were averaged over the ranks, so
// every rank scales by the same factor.
void TakeOptimizerStep(torch::optim::Optimizer& optimizer,
                       const std::vector<at::Tensor>& parameters, double lr,
                       std::optional<double> max_grad_norm) {
  for (torch::optim::OptimizerParamGroup& group : optimizer.param_groups()) {
    group.options().set_lr(lr);
  }
  if (max_grad_norm.has_value()) torch::nn::utils::clip_grad_norm_(parameters, *max_grad_norm);
  optimizer.step();
}

}  // namespace istar::trainer::internal

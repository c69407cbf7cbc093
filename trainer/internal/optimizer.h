// The trainer's optimizer: AdamW with the published code's moments and epsilon, in two parameter
// groups (weight decay on weights only), and one optimizer step: the step's learning rate set on
// every group, the gradients clipped to the trial's max_grad_norm (unless off), AdamW's update
// (docs/training.md, "Optimizer and schedule"). The schedule itself is LearningRateFactor
// (batches.h), a function of the step alone.
#ifndef ISTAR_TRAINER_INTERNAL_OPTIMIZER_H_
#define ISTAR_TRAINER_INTERNAL_OPTIMIZER_H_

#include <ATen/core/Tensor.h>

#include <memory>
#include <optional>
#include <vector>

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace torch::optim {
class AdamW;
class Optimizer;
}  // namespace torch::optim

namespace istar::trainer::internal {

// AdamW (betas 0.9, 0.999; eps 1e-6) over every parameter of `module` at learning rate `lr`:
// the parameters whose Hugging Face names are weights take `weight_decay`, biases and LayerNorm
// weights none. Throws c10::Error on LibTorch's failures.
std::unique_ptr<torch::optim::AdamW> MakeOptimizer(torch::nn::Module& module, double lr,
                                                   double weight_decay);

// Sets `lr` on every parameter group of `optimizer`; with `max_grad_norm`, scales the gradients
// of `parameters` so that their global L2 norm is at most that (torch::nn::utils::clip_grad_norm_,
// Note [Gradient clipping] in optimizer.cc), in place; without it leaves them as they are; then
// takes the optimizer's step. Throws c10::Error on LibTorch's failures.
void TakeOptimizerStep(torch::optim::Optimizer& optimizer,
                       const std::vector<at::Tensor>& parameters, double lr,
                       std::optional<double> max_grad_norm);

}  // namespace istar::trainer::internal

#endif  // ISTAR_TRAINER_INTERNAL_OPTIMIZER_H_

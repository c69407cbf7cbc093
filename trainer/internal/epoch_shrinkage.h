// The shrinkage covariances (S0) of one epoch: the regularizer's, and the per-layer and all-layer
// ones behind the logged IsoScore* (docs/training.md, "S0"; docs/isotropy.md, "Logged measures").
#ifndef ISTAR_TRAINER_INTERNAL_EPOCH_SHRINKAGE_H_
#define ISTAR_TRAINER_INTERNAL_EPOCH_SHRINKAGE_H_

#include <ATen/core/Tensor.h>

#include <vector>

namespace istar::trainer::internal {

// Every tensor is a float64 [H, H] covariance on the trial's device, or undefined (a default
// EpochShrinkage holds none). Estimated by StepRunner::StartEpoch, saved in preemption
// checkpoints (shrinkage.pt) so that a run resumed inside the epoch uses and logs the same ones.
struct EpochShrinkage {
  // The regularizer's S0, over the union of its layers: I-STAR's with zeta > 0, else undefined.
  // The same tensor as all_layers when the regularizer reads every layer.
  at::Tensor regularizer;
  // layers[l - 1] is layer l's own S0, for l = 1..L; empty when training.evaluation_zeta is 0
  // (the logged IsoScore* then needs none).
  std::vector<at::Tensor> layers;
  // S0 of the union of layers 1..L: the logged union row's (layer -1); undefined with `layers`.
  at::Tensor all_layers;

  // True when the logged measures' S0s are here.
  bool logged() const { return !layers.empty() && all_layers.defined(); }
};

}  // namespace istar::trainer::internal

#endif  // ISTAR_TRAINER_INTERNAL_EPOCH_SHRINKAGE_H_

// File: trainer/autocast.h
// -----------------------------------------------------------------------------
// Mixed precision for a training step's forward pass on a GPU: the sweep's training.precision
// ("bf16") turns on LibTorch's CUDA autocast around the model's forward, as the published I-STAR
// code does with torch.autocast; the regularizers are then computed in float32 (trainer/loss.h
// casts the point cloud). RunTrial uses it; the GPU benchmark of deploy/gpu/ too.
//
// Example:
//
//   {
//     AutocastGuard autocast(at::kBFloat16, device.is_cuda());
//     out = model.Forward(batch);      // matmuls in bf16, reductions and norms in float32
//   }                                  // autocast off again, its cast cache cleared
//
// LibTorch changed this API in 2.4 (a device type per call instead of CUDA-only functions);
// autocast.cc compiles against both 1.13 and 2.x. Thread safety: autocast's state is per thread.
#ifndef ISTAR_TRAINER_AUTOCAST_H_
#define ISTAR_TRAINER_AUTOCAST_H_

#include <c10/core/ScalarType.h>

namespace istar::trainer {

// Enables CUDA autocast to `dtype` for its lifetime when `enabled`, restoring the previous state
// after; does nothing otherwise (fp32 trials, CPU devices).
class AutocastGuard {
 public:
  AutocastGuard(at::ScalarType dtype, bool enabled);
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;
  ~AutocastGuard();

 private:
  const bool enabled_;
  bool previous_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kHalf;
};

}  // namespace istar::trainer

#endif  // ISTAR_TRAINER_AUTOCAST_H_

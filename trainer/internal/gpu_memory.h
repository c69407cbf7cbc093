// Peak GPU memory of a trial's epochs (docs/training.md, "Metrics"): LibTorch's caching
// allocator's statistics, read only by a CUDA LibTorch (ISTAR_TORCH_CUDA).
#ifndef ISTAR_TRAINER_INTERNAL_GPU_MEMORY_H_
#define ISTAR_TRAINER_INTERNAL_GPU_MEMORY_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>

namespace istar::trainer::internal {

// The most bytes of tensors LibTorch held on `device` at once since the last ResetPeakGpuMemory
// (or the start); nullopt for a CPU device, and in a LibTorch without CUDA.
std::optional<int64_t> PeakGpuMemory(const at::Device& device);

// Starts a new peak on `device` (nothing on a CPU).
void ResetPeakGpuMemory(const at::Device& device);

}  // namespace istar::trainer::internal

#endif  // ISTAR_TRAINER_INTERNAL_GPU_MEMORY_H_

// PeakGpuMemory / ResetPeakGpuMemory (trainer/internal/gpu_memory.h). c10/cuda needs the c10_cuda
// library, which only a CUDA LibTorch has (cmake/IstarDependencies.cmake).
#include "trainer/internal/gpu_memory.h"

#if defined(ISTAR_TORCH_CUDA)
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace istar::trainer::internal {

#if defined(ISTAR_TORCH_CUDA)
namespace {

int IndexOf(const at::Device& device) {
  return device.has_index() ? device.index() : c10::cuda::current_device();
}

}  // namespace

std::optional<int64_t> PeakGpuMemory(const at::Device& device) {
  if (!device.is_cuda()) return std::nullopt;
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(
      static_cast<c10::DeviceIndex>(IndexOf(device)));
  // Entry 0 of each statistic is StatType::AGGREGATE (every pool), in LibTorch 1.13 and 2.x.
  return stats.allocated_bytes[0].peak;
}

void ResetPeakGpuMemory(const at::Device& device) {
  if (device.is_cuda()) {
    c10::cuda::CUDACachingAllocator::resetPeakStats(static_cast<c10::DeviceIndex>(IndexOf(device)));
  }
}

#else

std::optional<int64_t> PeakGpuMemory(const at::Device&) { return std::nullopt; }

void ResetPeakGpuMemory(const at::Device&) {}

#endif

}  // namespace istar::trainer::internal

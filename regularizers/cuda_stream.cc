// CurrentStream (regularizers/tensor_collectives.h): the one place that reads LibTorch's CUDA
// stream. c10/cuda needs the c10_cuda library, which only a CUDA LibTorch has (ISTAR_TORCH_CUDA,
// cmake/IstarDependencies.cmake); a CPU LibTorch has no CUDA tensors to ask about.
#include <ATen/core/Tensor.h>

#include "regularizers/tensor_collectives.h"

#if defined(ISTAR_TORCH_CUDA)
#include <c10/cuda/CUDAStream.h>
#endif

namespace istar::regularizers {

void* CurrentStream(const at::Device& device) {
#if defined(ISTAR_TORCH_CUDA)
  if (device.is_cuda()) return c10::cuda::getCurrentCUDAStream(device.index()).stream();
#else
  (void)device;
#endif
  return nullptr;
}

}  // namespace istar::regularizers

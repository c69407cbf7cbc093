#include "trainer/autocast.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

// Note [Autocast across LibTorch versions]: LibTorch 2.4 made autocast's state per device type
// (is_autocast_enabled(at::kCUDA), set_autocast_dtype(at::kCUDA, ...)) and deprecated the
// CUDA-only functions that 1.13 has (is_enabled(), set_autocast_gpu_dtype()).
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define ISTAR_AUTOCAST_PER_DEVICE 1
#endif

namespace istar::trainer {
namespace {

bool CudaAutocastEnabled() {
#ifdef ISTAR_AUTOCAST_PER_DEVICE
  return at::autocast::is_autocast_enabled(at::kCUDA);
#else
  return at::autocast::is_enabled();
#endif
}

void SetCudaAutocast(bool enabled, at::ScalarType dtype) {
#ifdef ISTAR_AUTOCAST_PER_DEVICE
  at::autocast::set_autocast_enabled(at::kCUDA, enabled);
  at::autocast::set_autocast_dtype(at::kCUDA, dtype);
#else
  at::autocast::set_enabled(enabled);
  at::autocast::set_autocast_gpu_dtype(dtype);
#endif
}

at::ScalarType CudaAutocastDtype() {
#ifdef ISTAR_AUTOCAST_PER_DEVICE
  return at::autocast::get_autocast_dtype(at::kCUDA);
#else
  return at::autocast::get_autocast_gpu_dtype();
#endif
}

}  // namespace

AutocastGuard::AutocastGuard(at::ScalarType dtype, bool enabled) : enabled_(enabled) {
  if (!enabled_) return;
  previous_enabled_ = CudaAutocastEnabled();
  previous_dtype_ = CudaAutocastDtype();
  SetCudaAutocast(true, dtype);
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!enabled_) return;
  // As torch.autocast's __exit__: the cache of casted weights lives while any autocast region
  // is open.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  SetCudaAutocast(previous_enabled_, previous_dtype_);
}

}  // namespace istar::trainer

// The one LibTorch boundary of the trainer (docs/architecture.md, "Conventions"): LibTorch's
// exceptions become Statuses.
#ifndef ISTAR_TRAINER_INTERNAL_TORCH_BOUNDARY_H_
#define ISTAR_TRAINER_INTERNAL_TORCH_BOUNDARY_H_

#include <c10/util/Exception.h>

#include <new>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace istar::trainer::internal {

// Runs `fn` (returning a Status or StatusOr) and turns a c10::Error it throws into Internal
// ("LibTorch: ...") and std::bad_alloc into ResourceExhausted.
template <typename Fn>
auto CatchTorch(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("LibTorch: ", e.what_without_backtrace()));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory");
  }
}

}  // namespace istar::trainer::internal

#endif  // ISTAR_TRAINER_INTERNAL_TORCH_BOUNDARY_H_

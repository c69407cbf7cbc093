// File: torch_boundary/torch_boundary.h
// -----------------------------------------------------------------------------
// The one way LibTorch's exceptions become Statuses (docs/architecture.md, "Conventions"). Every
// LibTorch module (regularizers/, models/, trainer/) calls it at the boundary where its
// exceptions would otherwise meet a caller that speaks absl::Status.
//
// Example:
//
//   absl::StatusOr<LoadedModel> LoadPretrained(const std::string& dir, ...) {
//     return CatchTorch(dir, [&] { return LoadPretrainedOrThrow(dir, ...); });
//   }
//
// Thread safety: a function template with no state.
#ifndef ISTAR_TORCH_BOUNDARY_TORCH_BOUNDARY_H_
#define ISTAR_TORCH_BOUNDARY_TORCH_BOUNDARY_H_

#include <c10/util/Exception.h>

#include <new>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace istar {

// Runs `fn` (returning a Status or a StatusOr) and turns what LibTorch throws into its Status,
// prefixed by `context` (a path, "LibTorch", what was being done): a c10::Error (a failed
// TORCH_CHECK, a tensor of the wrong shape, a file LibTorch cannot parse) into Internal, with
// LibTorch's message without its C++ backtrace; std::bad_alloc (the CPU allocator, or the
// caching allocator of an older LibTorch) into ResourceExhausted, so that a caller can tell a
// trial that did not fit from a bug.
template <typename Fn>
auto CatchTorch(const std::string& context, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(context, ": ", e.what_without_backtrace()));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat(context, ": out of memory"));
  }
}

}  // namespace istar

#endif  // ISTAR_TORCH_BOUNDARY_TORCH_BOUNDARY_H_

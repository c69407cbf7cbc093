// File: sweeps/internal/axes.h
// -----------------------------------------------------------------------------
// An axis of a sweep: the values one setting (a model, lambda, the seed, ...) takes. In a grid an
// axis is a list of values; in a sampled sweep it may also be a distribution. Grammar in
// docs/sweep-format.md.
#ifndef ISTAR_SWEEPS_INTERNAL_AXES_H_
#define ISTAR_SWEEPS_INTERNAL_AXES_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "sweeps/internal/yaml_fields.h"

namespace istar::sweeps::internal {

enum class AxisKind {
  kValues,      // one of `values`: every one in a grid, a uniform choice when sampling
  kUniform,     // uniform in [low, high] (integers: inclusive; numbers: [low, high))
  kLogUniform,  // |x| log-uniform between |low| and |high|, with their common sign
};

template <typename T>
struct Axis {
  AxisKind kind = AxisKind::kValues;
  std::vector<T> values;  // kValues only, in file order; never empty
  T low{};                // kUniform and kLogUniform only; low < high
  T high{};

  static Axis Of(std::vector<T> values) { return Axis{.values = std::move(values)}; }
};

// Each reader accepts a value, a list of values or, when `sampling`, a distribution map
// ({choice: [...]}, and for numbers {uniform: [a, b]} or {log_uniform: [a, b]}, for integers
// {uniform: [a, b]}). Every value, bounds included, must lie within `bounds`.
[[nodiscard]] absl::StatusOr<Axis<double>> ReadNumberAxis(const Reader& reader, const Field& field,
                                                          const Bounds& bounds, bool sampling);
[[nodiscard]] absl::StatusOr<Axis<int64_t>> ReadIntegerAxis(const Reader& reader,
                                                            const Field& field,
                                                            const Bounds& bounds, bool sampling);
// Names must be among `known` ("unknown model 'gpt2'; models defines a, b" where `noun` is
// "model" and `source` is "models").
[[nodiscard]] absl::StatusOr<Axis<std::string>> ReadNameAxis(
    const Reader& reader, const Field& field, std::span<const std::string> known,
    std::string_view noun, std::string_view source, bool sampling);

}  // namespace istar::sweeps::internal

#endif  // ISTAR_SWEEPS_INTERNAL_AXES_H_

#include "arrays/internal/shape.h"

#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace istar::arrays::internal {

std::optional<uint64_t> ElementCount(std::span<const uint64_t> shape) {
  // Gives up at the first partial product that overflows, even if a later dimension is 0: no
  // writer produces such a shape, and its rows would not fit in int64_t anyway.
  uint64_t count = 1;
  for (const uint64_t dim : shape) {
    if (__builtin_mul_overflow(count, dim, &count)) return std::nullopt;
  }
  return count;
}

std::string FormatShape(std::span<const uint64_t> shape) {
  return absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
}

absl::StatusOr<MatrixShape> FlattenShape(std::span<const uint64_t> shape,
                                         absl::string_view context) {
  if (shape.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": expected an array of rank >= 2, got shape ", FormatShape(shape)));
  }
  const std::optional<uint64_t> rows = ElementCount(shape.first(shape.size() - 1));
  constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
  if (!rows.has_value() || *rows > kMax || shape.back() > kMax) {
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": shape ", FormatShape(shape), " is too large"));
  }
  return MatrixShape{.rows = static_cast<int64_t>(*rows),
                     .cols = static_cast<int64_t>(shape.back())};
}

}  // namespace istar::arrays::internal

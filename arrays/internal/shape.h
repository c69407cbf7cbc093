// File: arrays/internal/shape.h
// -----------------------------------------------------------------------------
// Array shapes as the readers see them, and the one rule that turns a shape of rank >= 2 into
// matrix rows and columns (array_file.h): every dimension but the last is folded into the rows.
#ifndef ISTAR_ARRAYS_INTERNAL_SHAPE_H_
#define ISTAR_ARRAYS_INTERNAL_SHAPE_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace istar::arrays::internal {

// The number of elements of `shape` (1 for rank 0), or nullopt if it does not fit in 64 bits.
// Shapes come from untrusted headers, so the product is checked before it sizes anything.
std::optional<uint64_t> ElementCount(std::span<const uint64_t> shape);

// "(2, 3)", "(5)", "()".
std::string FormatShape(std::span<const uint64_t> shape);

struct MatrixShape {
  int64_t rows = 0;
  int64_t cols = 0;
};

// The matrix that an array of `shape` is read as. InvalidArgument, with a message starting with
// `context` (the file, and the tensor where there is one), if the rank is below 2 or the rows or
// columns do not fit in int64_t.
[[nodiscard]] absl::StatusOr<MatrixShape> FlattenShape(std::span<const uint64_t> shape,
                                                       absl::string_view context);

}  // namespace istar::arrays::internal

#endif  // ISTAR_ARRAYS_INTERNAL_SHAPE_H_

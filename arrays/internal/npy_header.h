// File: arrays/internal/npy_header.h
// -----------------------------------------------------------------------------
// The header of a .npy file: a Python dict literal such as
//   {'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }
// parsed without a Python interpreter. Grammar in docs/array-files.md.
#ifndef ISTAR_ARRAYS_INTERNAL_NPY_HEADER_H_
#define ISTAR_ARRAYS_INTERNAL_NPY_HEADER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace istar::arrays::internal {

struct NpyHeader {
  std::string descr;            // NumPy's dtype string, e.g. "<f8".
  bool fortran_order = false;   // True if the data is stored column-major.
  std::vector<uint64_t> shape;  // Empty for a scalar.
};

// Parses `text`, the header after the length field (padding and the final '\n' included).
// InvalidArgument if it is not a dict literal with exactly the keys 'descr' (a string),
// 'fortran_order' (True or False) and 'shape' (a tuple of non-negative integers), as NumPy itself
// requires. The message says what was expected and where; it does not name the file.
[[nodiscard]] absl::StatusOr<NpyHeader> ParseNpyHeader(std::string_view text);

}  // namespace istar::arrays::internal

#endif  // ISTAR_ARRAYS_INTERNAL_NPY_HEADER_H_

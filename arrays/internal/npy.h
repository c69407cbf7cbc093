// File: arrays/internal/npy.h
// -----------------------------------------------------------------------------
// NumPy's .npy format (versions 1.0, 2.0 and 3.0), read into and written from a Matrix. The byte
// layout is in docs/array-files.md.
#ifndef ISTAR_ARRAYS_INTERNAL_NPY_H_
#define ISTAR_ARRAYS_INTERNAL_NPY_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "arrays/array_file.h"

namespace istar::arrays::internal {

// ReadMatrix for a .npy file; same contract.
[[nodiscard]] absl::StatusOr<Matrix> ReadNpy(const std::string& path);

// The bytes that precede the data of a C-order (rows, cols) array of `dtype` (kFloat32 or
// kFloat64) in a version 1.0 file: magic, version, header length and a header padded with spaces
// and a final '\n' to a multiple of 64 bytes, as numpy.save writes it.
std::string NpyPreamble(DType dtype, int64_t rows, int64_t cols);

}  // namespace istar::arrays::internal

#endif  // ISTAR_ARRAYS_INTERNAL_NPY_H_

// File: arrays/array_file.h
// -----------------------------------------------------------------------------
// Reading and writing dense numeric arrays in the file formats researchers exchange point clouds
// and matrices in: NumPy .npy, Hugging Face .safetensors, and plain .csv. This module is
// LibTorch-free, so the command line and the torch-free modules can read such files; the models
// module builds its checkpoint loading on the same safetensors parser.
//
// Every array is read as a row-major matrix of doubles. An array of rank k >= 2 with shape
// (n1, ..., nk) is read as (n1 * ... * n(k-1)) rows of nk columns, so a [batch, tokens, hidden]
// tensor of hidden states becomes one point per token. Rank 0 and rank 1 arrays are rejected.
// The formats are described in docs/array-files.md.
//
// Example:
//
//   ISTAR_ASSIGN_OR_RETURN(arrays::Matrix points,
//                          arrays::ReadMatrix("hidden.safetensors", {.tensor_name = "layer_12"}));
//   std::cout << points.rows << " points in " << points.cols << " dimensions\n";
//
// Thread safety: every function is safe to call concurrently on different files.
#ifndef ISTAR_ARRAYS_ARRAY_FILE_H_
#define ISTAR_ARRAYS_ARRAY_FILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace istar::arrays {

// A dense row-major matrix of float64 values.
struct Matrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<double> values;  // rows * cols values; element (r, c) is values[r * cols + c].

  double at(int64_t r, int64_t c) const { return values[r * cols + c]; }
};

// Element types an array file may hold. Values are converted to double when read.
enum class DType { kFloat16, kBFloat16, kFloat32, kFloat64 };

struct ReadOptions {
  // .safetensors only: the name of the tensor to read. May be empty when the file holds exactly
  // one tensor. Ignored for other formats.
  std::string tensor_name;
};

// Reads the matrix stored in `path`. The format is chosen by the file's extension, ignoring case:
//   .npy          NumPy format version 1.0, 2.0 or 3.0; dtype '<f4' or '<f8' (or '|'/'=' byte
//                 order on little-endian data); C order only (fortran_order True is rejected).
//   .safetensors  the tensor named by options.tensor_name; dtype F16, BF16, F32 or F64.
//   .csv          one row per line, values separated by commas; a first line that is not all
//                 numbers is taken as a header and skipped; blank lines are ignored.
// Returns:
//   NotFound         if the file does not exist or cannot be opened;
//   InvalidArgument  if the extension is none of the above, the file is malformed, has an
//                    unsupported dtype, rank < 2, or (for safetensors) the named tensor is absent
//                    or tensor_name is empty and the file holds several tensors; the message
//                    names the file and, for .csv, the line (and the column of a value that is
//                    not a number);
//   Internal         if reading fails in the OS (the message carries the OS error);
//   the matrix otherwise. Non-finite values (nan, inf) are returned as read: callers that cannot
//   use them check for them.
[[nodiscard]] absl::StatusOr<Matrix> ReadMatrix(const std::string& path,
                                                const ReadOptions& options = {});

// Writes `matrix` to `path` as a 2-D .npy file (format version 1.0, C order) whose dtype is
// `dtype` (kFloat32 or kFloat64; other types are a programming error).
// Returns InvalidArgument if rows or cols is negative or matrix.values.size() != rows * cols,
// Internal if the file cannot be written (the message carries the OS error; the partial file is
// removed), OK otherwise.
[[nodiscard]] absl::Status WriteNpy(const std::string& path, const Matrix& matrix,
                                    DType dtype = DType::kFloat32);

}  // namespace istar::arrays

#endif  // ISTAR_ARRAYS_ARRAY_FILE_H_

#include "arrays/array_file.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <span>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "arrays/internal/csv.h"
#include "arrays/internal/elements.h"
#include "arrays/internal/files.h"
#include "arrays/internal/npy.h"
#include "arrays/internal/safetensors.h"
#include "base/check.h"
#include "base/status_macros.h"

namespace istar::arrays {
namespace {

// Values are encoded and written this many at a time, so writing needs no second copy of a large
// matrix.
constexpr size_t kWriteChunkValues = 1 << 16;

std::string LowercaseExtension(const std::string& path) {
  std::string extension = std::filesystem::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension;
}

}  // namespace

absl::StatusOr<Matrix> ReadMatrix(const std::string& path, const ReadOptions& options) {
  const std::string extension = LowercaseExtension(path);
  if (extension == ".npy") return internal::ReadNpy(path);
  if (extension == ".safetensors") return internal::ReadSafetensors(path, options.tensor_name);
  if (extension == ".csv") return internal::ReadCsv(path);
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": ",
                   extension.empty() ? "no file extension"
                                     : absl::StrCat("unsupported file extension '", extension, "'"),
                   " (expected .npy, .safetensors or .csv)"));
}

absl::Status WriteNpy(const std::string& path, const Matrix& matrix, DType dtype) {
  ISTAR_CHECK(dtype == DType::kFloat32 || dtype == DType::kFloat64)
      << "WriteNpy writes float32 or float64, got DType " << static_cast<int>(dtype);
  int64_t count = 0;
  if (matrix.rows < 0 || matrix.cols < 0 ||
      __builtin_mul_overflow(matrix.rows, matrix.cols, &count) ||
      matrix.values.size() != static_cast<uint64_t>(count)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": a ", matrix.rows, " x ", matrix.cols,
                                                   " matrix cannot hold ", matrix.values.size(),
                                                   " values"));
  }
  ISTAR_ASSIGN_OR_RETURN(internal::WritableFile file, internal::WritableFile::Create(path));
  ISTAR_RETURN_IF_ERROR(file.Append(internal::NpyPreamble(dtype, matrix.rows, matrix.cols)));
  const std::span<const double> values(matrix.values);
  std::string chunk;
  for (size_t start = 0; start < values.size(); start += kWriteChunkValues) {
    chunk.clear();
    internal::AppendLittleEndian(
        values.subspan(start, std::min(kWriteChunkValues, values.size() - start)), dtype, &chunk);
    ISTAR_RETURN_IF_ERROR(file.Append(chunk));
  }
  return file.Close();
}

}  // namespace istar::arrays

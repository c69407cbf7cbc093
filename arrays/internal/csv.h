// File: arrays/internal/csv.h
// -----------------------------------------------------------------------------
// Comma-separated numbers, one matrix row per line, with an optional header line. The rules are
// in docs/array-files.md.
#ifndef ISTAR_ARRAYS_INTERNAL_CSV_H_
#define ISTAR_ARRAYS_INTERNAL_CSV_H_

#include <string>

#include "absl/status/statusor.h"
#include "arrays/array_file.h"

namespace istar::arrays::internal {

// ReadMatrix for a .csv file; same contract. Errors name the file and 1-based line, and the
// 1-based column (in bytes) of a value that is not a number.
[[nodiscard]] absl::StatusOr<Matrix> ReadCsv(const std::string& path);

}  // namespace istar::arrays::internal

#endif  // ISTAR_ARRAYS_INTERNAL_CSV_H_

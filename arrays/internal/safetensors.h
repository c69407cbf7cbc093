// File: arrays/internal/safetensors.h
// -----------------------------------------------------------------------------
// Hugging Face's .safetensors format: an 8-byte little-endian header length, a JSON header that
// maps tensor names to dtype, shape and byte range, then the data. The whole header is validated
// before any tensor is read. The byte layout is in docs/array-files.md.
#ifndef ISTAR_ARRAYS_INTERNAL_SAFETENSORS_H_
#define ISTAR_ARRAYS_INTERNAL_SAFETENSORS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "arrays/array_file.h"
#include "arrays/internal/files.h"

namespace istar::arrays::internal {

// One tensor's header entry, validated: its byte range [begin, end) lies in the data buffer and,
// when the dtype's element size is known, holds exactly the shape's elements.
struct TensorEntry {
  std::string name;
  std::string dtype;  // As written: "F32", "BF16", "I64", ...
  std::vector<uint64_t> shape;
  uint64_t begin = 0;  // Offsets relative to the start of the data buffer.
  uint64_t end = 0;
};

// The validated header of an open file.
struct SafetensorsHeader {
  uint64_t data_offset = 0;          // Where the data buffer starts in the file.
  std::vector<TensorEntry> tensors;  // Sorted by name; "__metadata__" is not a tensor.
};

// Reads and validates the header of `file`. InvalidArgument, naming the file, if the header
// length, the JSON or any entry is malformed, or two tensors' byte ranges overlap.
[[nodiscard]] absl::StatusOr<SafetensorsHeader> ReadSafetensorsHeader(const ReadOnlyFile& file);

// ReadMatrix for a .safetensors file; same contract.
[[nodiscard]] absl::StatusOr<Matrix> ReadSafetensors(const std::string& path,
                                                     const std::string& tensor_name);

}  // namespace istar::arrays::internal

#endif  // ISTAR_ARRAYS_INTERNAL_SAFETENSORS_H_

// File: arrays/internal/safetensors.h
// -----------------------------------------------------------------------------
// The one .safetensors header parser: SafetensorsFile (arrays/safetensors.h) runs it over a
// file's mapped bytes, and ReadMatrix reads its .safetensors files through SafetensorsFile. The
// whole header is validated before any tensor is read. The byte layout is in
// docs/array-files.md.
#ifndef ISTAR_ARRAYS_INTERNAL_SAFETENSORS_H_
#define ISTAR_ARRAYS_INTERNAL_SAFETENSORS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "arrays/array_file.h"
#include "arrays/safetensors.h"

namespace istar::arrays::internal {

// Bytes of the little-endian header length that opens every file.
inline constexpr uint64_t kSafetensorsLengthFieldSize = 8;

// One tensor's header entry, validated: its byte range [begin, end) lies in the data buffer and,
// when the dtype is known, holds exactly the shape's elements.
struct TensorEntry {
  std::string name;
  TensorDType dtype = TensorDType::kUnknown;
  std::string dtype_name;  // As written: "F32", "BF16", "I64", ...
  std::vector<uint64_t> shape;
  uint64_t begin = 0;  // Offsets relative to the start of the data buffer.
  uint64_t end = 0;
};

// The validated header of a file.
struct SafetensorsHeader {
  uint64_t data_offset = 0;          // Where the data buffer starts in the file.
  std::vector<TensorEntry> tensors;  // Sorted by name; "__metadata__" is not a tensor.
  std::map<std::string, std::string> metadata;
};

// The dtype the format spells `name`; kUnknown for a name not in the format's list.
TensorDType TensorDTypeFromName(std::string_view name);

// Parses and validates the header of the file whose complete contents are `bytes`.
// InvalidArgument, with a message starting with `path: `, if the header length, the JSON, the
// metadata or any entry is malformed, or two tensors' byte ranges overlap.
[[nodiscard]] absl::StatusOr<SafetensorsHeader> ParseSafetensorsHeader(
    absl::string_view path, std::span<const std::byte> bytes);

// ReadMatrix for a .safetensors file; same contract.
[[nodiscard]] absl::StatusOr<Matrix> ReadSafetensors(const std::string& path,
                                                     const std::string& tensor_name);

}  // namespace istar::arrays::internal

#endif  // ISTAR_ARRAYS_INTERNAL_SAFETENSORS_H_

// File: arrays/safetensors.h
// -----------------------------------------------------------------------------
// Hugging Face's .safetensors files, tensor by tensor: a memory-mapped reader that hands out each
// tensor's raw little-endian bytes, and a writer. This is the format of model checkpoints
// (model.safetensors), so models/checkpoint.h builds on it; ReadMatrix (array_file.h) reads its
// .safetensors files through the same parser. The module is LibTorch-free: tensors are bytes plus
// a dtype and a shape. The byte layout and every check are in docs/array-files.md.
//
// Example:
//
//   ISTAR_ASSIGN_OR_RETURN(std::unique_ptr<arrays::SafetensorsFile> file,
//                          arrays::SafetensorsFile::Open("model.safetensors"));
//   for (const arrays::TensorInfo& tensor : file->tensors()) {
//     std::cout << tensor.name << ": " << tensor.dtype_name << ", " << tensor.data.size() << "
//     B\n";
//   }
//
// Thread safety: a SafetensorsFile is immutable once opened; any number of threads may read it.
// WriteSafetensors may be called concurrently for different paths.
#ifndef ISTAR_ARRAYS_SAFETENSORS_H_
#define ISTAR_ARRAYS_SAFETENSORS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace istar::arrays {

// The element types the format defines. Every one with a whole-byte size is validated (its shape
// must fill its byte range exactly); what a reader can convert is up to the reader (ReadMatrix
// takes the floating-point four, models/checkpoint.h adds the integer types and BOOL).
enum class TensorDType {
  kBool,
  kU8,
  kI8,
  kF8E5M2,
  kF8E4M3,
  kF8E8M0,  // 1 byte
  kI16,
  kU16,
  kF16,
  kBF16,  // 2 bytes
  kI32,
  kU32,
  kF32,  // 4 bytes
  kI64,
  kU64,
  kF64,
  kC64,  // 8 bytes
  // A name this version of istar does not know (a newer sub-byte type, say). Such a tensor may
  // share a file with tensors istar can read; only its byte range is checked.
  kUnknown,
};

// Bytes per element of `dtype`; 0 for kUnknown.
size_t TensorDTypeSize(TensorDType dtype);

// The format's spelling of `dtype`: "F32", "BF16", "F8_E4M3", ...; "unknown" for kUnknown.
std::string_view TensorDTypeName(TensorDType dtype);

// One tensor of an open file, validated: `data` holds exactly product(shape) elements of `dtype`
// (for a known dtype), lies inside the file and overlaps no other tensor's bytes.
struct TensorInfo {
  std::string name;
  TensorDType dtype = TensorDType::kUnknown;
  std::string dtype_name;       // As written in the header, also for kUnknown.
  std::vector<uint64_t> shape;  // Row-major (C order); empty for a scalar.
  // The little-endian elements, in C order. Points into the file's mapping: valid while the
  // SafetensorsFile lives. Its address is aligned to the element size only if the writer aligned
  // it (WriteSafetensors does; so does Hugging Face's writer): readers must not assume it.
  std::span<const std::byte> data;
};

// A .safetensors file, mapped read-only into memory (PROT_READ, MAP_PRIVATE) with its whole
// header validated. Owns the mapping, which it unmaps on destruction; neither copyable nor
// movable, since every TensorInfo points into it (it lives behind a unique_ptr).
class SafetensorsFile {
 public:
  // Maps and validates `path`.
  // Returns NotFound if the file does not exist, cannot be opened or is not a regular file;
  // InvalidArgument, with a message that starts with `path: `, if the file is malformed (see
  // docs/array-files.md for the list); Internal if mapping it fails in the OS.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(
      const std::string& path);

  // As Open, for the bytes of a file already in memory, which the result takes over. `name`
  // stands for the path in error messages. For tests and fuzzing.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SafetensorsFile>> FromBytes(
      std::string name, std::string bytes);

  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  // The path (or FromBytes' name).
  const std::string& path() const;

  // The whole file: the length field, the header, then the data that the tensors point into.
  std::span<const std::byte> bytes() const;

  // Every tensor, sorted by name. "__metadata__" is not a tensor.
  const std::vector<TensorInfo>& tensors() const;

  // The tensor named `name`, or nullptr. O(log n).
  const TensorInfo* Find(std::string_view name) const;

  // The header's "__metadata__" object (a string-to-string map); empty if it has none.
  const std::map<std::string, std::string>& metadata() const;

 private:
  struct Rep;
  explicit SafetensorsFile(std::unique_ptr<Rep> rep);
  // Validates the header of rep's bytes and points the tensors into them.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Index(std::unique_ptr<Rep> rep);

  std::unique_ptr<Rep> rep_;
};

// One tensor for WriteSafetensors. The spans are not owned: they must outlive the call.
struct TensorToWrite {
  std::string name;
  TensorDType dtype = TensorDType::kF32;
  std::vector<uint64_t> shape;
  std::span<const std::byte> data;  // product(shape) little-endian elements, C order.
};

// Writes `tensors` and `metadata` to `path` as a .safetensors file that Hugging Face's
// safetensors library reads back unchanged, and so does SafetensorsFile::Open.
// Note [Safetensors data order]
// Layout (see docs/array-files.md): the header lists "__metadata__" first (omitted when
// `metadata` is empty), then the tensors in data order; the data is ordered as Hugging Face's
// writer orders it, by element size descending, then by name, contiguous from offset 0, and the
// header is padded with spaces to a multiple of 8 bytes, so every tensor's bytes are aligned to
// its element size in the file (and in a mapping of it).
// The write is atomic: the bytes go to a temporary file beside `path`, which is then renamed over
// it, so `path` holds either its old contents or the complete new file.
// Returns InvalidArgument if a name is empty, repeated or "__metadata__", a dtype is kUnknown,
// or a tensor's data is not product(shape) elements long; Internal (with the OS error) if the
// file cannot be written or renamed; OK otherwise.
[[nodiscard]] absl::Status WriteSafetensors(const std::string& path,
                                            std::span<const TensorToWrite> tensors,
                                            const std::map<std::string, std::string>& metadata);

}  // namespace istar::arrays

#endif  // ISTAR_ARRAYS_SAFETENSORS_H_

#include "arrays/internal/safetensors.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "arrays/internal/elements.h"
#include "arrays/internal/shape.h"
#include "base/status_macros.h"

namespace istar::arrays::internal {
namespace {

using nlohmann::json;

// The reference implementation refuses larger headers; so do we, before allocating one.
constexpr uint64_t kMaxHeaderLength = 100'000'000;
// Error messages list at most this many tensor names.
constexpr size_t kMaxListedNames = 20;

absl::Status Invalid(absl::string_view context, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(context, ": ", what));
}

std::optional<DType> ReadableDType(TensorDType dtype) {
  switch (dtype) {
    case TensorDType::kF16:
      return DType::kFloat16;
    case TensorDType::kBF16:
      return DType::kBFloat16;
    case TensorDType::kF32:
      return DType::kFloat32;
    case TensorDType::kF64:
      return DType::kFloat64;
    default:
      return std::nullopt;
  }
}

// The header length field, checked against the file size before anything is allocated.
absl::StatusOr<uint64_t> ReadHeaderLength(absl::string_view path,
                                          std::span<const std::byte> bytes) {
  if (bytes.size() < kSafetensorsLengthFieldSize) {
    return Invalid(
        path, absl::StrCat("file is ", bytes.size(), " bytes, too short for the header length"));
  }
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | std::to_integer<uint64_t>(bytes[i]);
  if (length > bytes.size() - kSafetensorsLengthFieldSize || length > kMaxHeaderLength) {
    return Invalid(path, absl::StrCat("header length ", length, " exceeds the file size ",
                                      bytes.size(), " or the 100 MB limit"));
  }
  return length;
}

// nlohmann::json tells where a syntax error is only in the exception it throws; this is where
// that exception becomes a Status.
absl::StatusOr<json> ParseJson(absl::string_view path, std::string_view text) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    return Invalid(
        path, absl::StrCat("header is not valid JSON (error at byte ", e.byte, " of the header)"));
  } catch (const json::exception& e) {  // A number out of range ("1e400"), found by fuzzing.
    return Invalid(path, absl::StrCat("header is not valid JSON (", e.what(), ")"));
  }
}

// A JSON array of non-negative integers, or nullopt.
std::optional<std::vector<uint64_t>> UnsignedArray(const json& value) {
  if (!value.is_array()) return std::nullopt;
  std::vector<uint64_t> numbers;
  for (const json& element : value) {
    if (!element.is_number_unsigned()) return std::nullopt;
    numbers.push_back(element.get<uint64_t>());
  }
  return numbers;
}

absl::StatusOr<TensorEntry> ParseEntry(absl::string_view context, const std::string& name,
                                       const json& value, uint64_t buffer_size) {
  if (!value.is_object()) return Invalid(context, "entry is not a JSON object");
  const auto dtype = value.find("dtype");
  if (dtype == value.end() || !dtype->is_string()) {
    return Invalid(context, "'dtype' is missing or not a string");
  }
  const auto shape = value.find("shape");
  std::optional<std::vector<uint64_t>> dims;
  if (shape == value.end() || !(dims = UnsignedArray(*shape))) {
    return Invalid(context, "'shape' is missing or not an array of non-negative integers");
  }
  const auto offsets = value.find("data_offsets");
  std::optional<std::vector<uint64_t>> range;
  if (offsets == value.end() || !(range = UnsignedArray(*offsets)) || range->size() != 2) {
    return Invalid(context, "'data_offsets' is missing or not two non-negative integers");
  }
  TensorEntry entry{.name = name,
                    .dtype = TensorDTypeFromName(dtype->get<std::string>()),
                    .dtype_name = dtype->get<std::string>(),
                    .shape = *std::move(dims),
                    .begin = (*range)[0],
                    .end = (*range)[1]};
  if (entry.begin > entry.end || entry.end > buffer_size) {
    return Invalid(context, absl::StrCat("data_offsets [", entry.begin, ", ", entry.end,
                                         "] are reversed or run past the end of the ", buffer_size,
                                         "-byte data buffer"));
  }
  return entry;
}

// "__metadata__": the reference implementation reads it as a map of strings, and so do we.
absl::StatusOr<std::map<std::string, std::string>> ParseMetadata(absl::string_view path,
                                                                 const json& value) {
  std::map<std::string, std::string> metadata;
  if (!value.is_object()) return Invalid(path, "'__metadata__' is not a JSON object");
  for (const auto& [key, text] : value.items()) {
    if (!text.is_string()) {
      return Invalid(path, absl::StrCat("'__metadata__' value of '", key, "' is not a string"));
    }
    metadata.emplace(key, text.get<std::string>());
  }
  return metadata;
}

absl::Status CheckByteLength(absl::string_view context, const TensorEntry& entry) {
  const uint64_t size = TensorDTypeSize(entry.dtype);
  if (size == 0) return absl::OkStatus();
  const std::optional<uint64_t> count = ElementCount(entry.shape);
  const uint64_t length = entry.end - entry.begin;
  if (!count.has_value() || *count > length / size || *count * size != length) {
    return Invalid(context, absl::StrCat("shape ", FormatShape(entry.shape), " of ",
                                         entry.dtype_name, " does not fill data_offsets [",
                                         entry.begin, ", ", entry.end, "] (", length, " bytes)"));
  }
  return absl::OkStatus();
}

// Two tensors may not share bytes. Empty ranges hold no bytes and so cannot overlap.
absl::Status CheckNoOverlap(absl::string_view path, const std::vector<TensorEntry>& tensors) {
  std::vector<const TensorEntry*> by_offset;
  for (const TensorEntry& entry : tensors) {
    if (entry.begin < entry.end) by_offset.push_back(&entry);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorEntry* a, const TensorEntry* b) {
    return std::pair(a->begin, a->end) < std::pair(b->begin, b->end);
  });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorEntry& a = *by_offset[i - 1];
    const TensorEntry& b = *by_offset[i];
    if (b.begin < a.end) {
      return Invalid(path, absl::StrCat("tensors '", a.name, "' [", a.begin, ", ", a.end, ") and '",
                                        b.name, "' [", b.begin, ", ", b.end, ") overlap"));
    }
  }
  return absl::OkStatus();
}

std::string ListNames(const std::vector<TensorInfo>& tensors) {
  std::vector<std::string> names;
  for (size_t i = 0; i < tensors.size() && i < kMaxListedNames; ++i) {
    names.push_back(tensors[i].name);
  }
  std::string list = absl::StrJoin(names, ", ");
  if (tensors.size() > kMaxListedNames) {
    absl::StrAppend(&list, ", ... (", tensors.size() - kMaxListedNames, " more)");
  }
  return list;
}

absl::StatusOr<const TensorInfo*> SelectTensor(const SafetensorsFile& file,
                                               const std::string& name) {
  const std::string& path = file.path();
  const std::vector<TensorInfo>& tensors = file.tensors();
  if (name.empty()) {
    if (tensors.size() == 1) return &tensors[0];
    if (tensors.empty()) return Invalid(path, "the file holds no tensors");
    return Invalid(path, absl::StrCat("the file holds ", tensors.size(),
                                      " tensors; set tensor_name to one of: ", ListNames(tensors)));
  }
  const TensorInfo* found = file.Find(name);
  if (found == nullptr) {
    return Invalid(
        path, absl::StrCat("no tensor named '", name, "'; the file holds: ", ListNames(tensors)));
  }
  return found;
}

}  // namespace

TensorDType TensorDTypeFromName(std::string_view name) {
  for (int i = 0; i < static_cast<int>(TensorDType::kUnknown); ++i) {
    const auto dtype = static_cast<TensorDType>(i);
    if (TensorDTypeName(dtype) == name) return dtype;
  }
  return TensorDType::kUnknown;
}

absl::StatusOr<SafetensorsHeader> ParseSafetensorsHeader(absl::string_view path,
                                                         std::span<const std::byte> bytes) {
  ISTAR_ASSIGN_OR_RETURN(const uint64_t header_length, ReadHeaderLength(path, bytes));
  const std::string_view text(
      reinterpret_cast<const char*>(bytes.data()) + kSafetensorsLengthFieldSize, header_length);
  ISTAR_ASSIGN_OR_RETURN(const json header, ParseJson(path, text));
  if (!header.is_object()) return Invalid(path, "header is not a JSON object");
  SafetensorsHeader result;
  result.data_offset = kSafetensorsLengthFieldSize + header_length;
  const uint64_t buffer_size = bytes.size() - result.data_offset;
  // nlohmann::json keeps object keys sorted, so the tensors come out sorted by name.
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      ISTAR_ASSIGN_OR_RETURN(result.metadata, ParseMetadata(path, value));
      continue;
    }
    const std::string context = absl::StrCat(path, ": tensor '", name, "'");
    ISTAR_ASSIGN_OR_RETURN(TensorEntry entry, ParseEntry(context, name, value, buffer_size));
    ISTAR_RETURN_IF_ERROR(CheckByteLength(context, entry));
    result.tensors.push_back(std::move(entry));
  }
  ISTAR_RETURN_IF_ERROR(CheckNoOverlap(path, result.tensors));
  return result;
}

absl::StatusOr<Matrix> ReadSafetensors(const std::string& path, const std::string& tensor_name) {
  ISTAR_ASSIGN_OR_RETURN(const std::unique_ptr<SafetensorsFile> file, SafetensorsFile::Open(path));
  ISTAR_ASSIGN_OR_RETURN(const TensorInfo* tensor, SelectTensor(*file, tensor_name));
  const std::string context = absl::StrCat(path, ": tensor '", tensor->name, "'");
  const std::optional<DType> dtype = ReadableDType(tensor->dtype);
  if (!dtype.has_value()) {
    return Invalid(context, absl::StrCat("unsupported dtype ", tensor->dtype_name,
                                         " (expected F16, BF16, F32 or F64)"));
  }
  ISTAR_ASSIGN_OR_RETURN(const MatrixShape shape, FlattenShape(tensor->shape, context));
  const std::string_view bytes(reinterpret_cast<const char*>(tensor->data.data()),
                               tensor->data.size());
  Matrix matrix{.rows = shape.rows,
                .cols = shape.cols,
                .values = std::vector<double>(bytes.size() / ElementSize(*dtype))};
  DecodeLittleEndian(bytes, *dtype, matrix.values);
  return matrix;
}

}  // namespace istar::arrays::internal

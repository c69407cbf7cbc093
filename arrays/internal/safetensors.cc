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

constexpr uint64_t kLengthFieldSize = 8;
// The reference implementation refuses larger headers; so do we, before allocating one.
constexpr uint64_t kMaxHeaderLength = 100'000'000;
// Error messages list at most this many tensor names.
constexpr size_t kMaxListedNames = 20;

absl::Status Invalid(absl::string_view context, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(context, ": ", what));
}

// Bytes per element of each dtype the format defines with a whole-byte size; 0 for a name not
// listed (a newer sub-byte type, say), whose byte length then goes unchecked: such a tensor may
// share a file with one we can read.
size_t DTypeSize(std::string_view dtype) {
  static constexpr std::pair<std::string_view, size_t> kSizes[] = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1},
      {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},     {"U32", 4},
      {"F32", 4},  {"I64", 8}, {"U64", 8}, {"F64", 8},     {"C64", 8}};
  for (const auto& [name, size] : kSizes) {
    if (name == dtype) return size;
  }
  return 0;
}

std::optional<DType> ReadableDType(std::string_view dtype) {
  if (dtype == "F16") return DType::kFloat16;
  if (dtype == "BF16") return DType::kBFloat16;
  if (dtype == "F32") return DType::kFloat32;
  if (dtype == "F64") return DType::kFloat64;
  return std::nullopt;
}

// The header length field, checked against the file size before anything is allocated.
absl::StatusOr<uint64_t> ReadHeaderLength(const ReadOnlyFile& file) {
  if (file.size() < kLengthFieldSize) {
    return Invalid(file.path(), absl::StrCat("file is ", file.size(),
                                             " bytes, too short for the header length"));
  }
  ISTAR_ASSIGN_OR_RETURN(const std::string field, file.Read(0, kLengthFieldSize));
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | static_cast<uint8_t>(field[i]);
  if (length > file.size() - kLengthFieldSize || length > kMaxHeaderLength) {
    return Invalid(file.path(), absl::StrCat("header length ", length, " exceeds the file size ",
                                             file.size(), " or the 100 MB limit"));
  }
  return length;
}

// nlohmann::json tells where a syntax error is only in the exception it throws; this is where
// that exception becomes a Status.
absl::StatusOr<json> ParseJson(const std::string& path, const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    return Invalid(
        path, absl::StrCat("header is not valid JSON (error at byte ", e.byte, " of the header)"));
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
                    .dtype = dtype->get<std::string>(),
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

absl::Status CheckByteLength(absl::string_view context, const TensorEntry& entry) {
  const uint64_t size = DTypeSize(entry.dtype);
  if (size == 0) return absl::OkStatus();
  const std::optional<uint64_t> count = ElementCount(entry.shape);
  const uint64_t length = entry.end - entry.begin;
  if (!count.has_value() || *count > length / size || *count * size != length) {
    return Invalid(context, absl::StrCat("shape ", FormatShape(entry.shape), " of ", entry.dtype,
                                         " does not fill data_offsets [", entry.begin, ", ",
                                         entry.end, "] (", length, " bytes)"));
  }
  return absl::OkStatus();
}

// Two tensors may not share bytes. Empty ranges hold no bytes and so cannot overlap.
absl::Status CheckNoOverlap(const std::string& path, const std::vector<TensorEntry>& tensors) {
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

std::string ListNames(const std::vector<TensorEntry>& tensors) {
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

absl::StatusOr<const TensorEntry*> SelectTensor(const std::string& path,
                                                const std::vector<TensorEntry>& tensors,
                                                const std::string& name) {
  if (name.empty()) {
    if (tensors.size() == 1) return &tensors[0];
    if (tensors.empty()) return Invalid(path, "the file holds no tensors");
    return Invalid(path, absl::StrCat("the file holds ", tensors.size(),
                                      " tensors; set tensor_name to one of: ", ListNames(tensors)));
  }
  const auto found = std::lower_bound(
      tensors.begin(), tensors.end(), name,
      [](const TensorEntry& entry, const std::string& key) { return entry.name < key; });
  if (found == tensors.end() || found->name != name) {
    return Invalid(
        path, absl::StrCat("no tensor named '", name, "'; the file holds: ", ListNames(tensors)));
  }
  return &*found;
}

}  // namespace

absl::StatusOr<SafetensorsHeader> ReadSafetensorsHeader(const ReadOnlyFile& file) {
  const std::string& path = file.path();
  ISTAR_ASSIGN_OR_RETURN(const uint64_t header_length, ReadHeaderLength(file));
  ISTAR_ASSIGN_OR_RETURN(const std::string text, file.Read(kLengthFieldSize, header_length));
  ISTAR_ASSIGN_OR_RETURN(const json header, ParseJson(path, text));
  if (!header.is_object()) return Invalid(path, "header is not a JSON object");
  SafetensorsHeader result;
  result.data_offset = kLengthFieldSize + header_length;
  const uint64_t buffer_size = file.size() - result.data_offset;
  // nlohmann::json keeps object keys sorted, so the tensors come out sorted by name.
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") continue;  // Free-form string map; nothing istar reads.
    const std::string context = absl::StrCat(path, ": tensor '", name, "'");
    ISTAR_ASSIGN_OR_RETURN(TensorEntry entry, ParseEntry(context, name, value, buffer_size));
    ISTAR_RETURN_IF_ERROR(CheckByteLength(context, entry));
    result.tensors.push_back(std::move(entry));
  }
  ISTAR_RETURN_IF_ERROR(CheckNoOverlap(path, result.tensors));
  return result;
}

absl::StatusOr<Matrix> ReadSafetensors(const std::string& path, const std::string& tensor_name) {
  ISTAR_ASSIGN_OR_RETURN(const ReadOnlyFile file, ReadOnlyFile::Open(path));
  ISTAR_ASSIGN_OR_RETURN(const SafetensorsHeader header, ReadSafetensorsHeader(file));
  ISTAR_ASSIGN_OR_RETURN(const TensorEntry* entry, SelectTensor(path, header.tensors, tensor_name));
  const std::string context = absl::StrCat(path, ": tensor '", entry->name, "'");
  const std::optional<DType> dtype = ReadableDType(entry->dtype);
  if (!dtype.has_value()) {
    return Invalid(context, absl::StrCat("unsupported dtype ", entry->dtype,
                                         " (expected F16, BF16, F32 or F64)"));
  }
  ISTAR_ASSIGN_OR_RETURN(const MatrixShape shape, FlattenShape(entry->shape, context));
  ISTAR_ASSIGN_OR_RETURN(const std::string bytes,
                         file.Read(header.data_offset + entry->begin, entry->end - entry->begin));
  Matrix matrix{.rows = shape.rows,
                .cols = shape.cols,
                .values = std::vector<double>(bytes.size() / ElementSize(*dtype))};
  DecodeLittleEndian(bytes, *dtype, matrix.values);
  return matrix;
}

}  // namespace istar::arrays::internal

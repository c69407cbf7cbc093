#include "arrays/safetensors.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "arrays/internal/files.h"
#include "arrays/internal/safetensors.h"
#include "arrays/internal/shape.h"
#include "base/status_macros.h"

namespace istar::arrays {
namespace {

struct DTypeFacts {
  std::string_view name;
  size_t size;
};

// Indexed by TensorDType; the order of the enum.
constexpr DTypeFacts kDTypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1},
    {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},     {"U32", 4},
    {"F32", 4},  {"I64", 8}, {"U64", 8}, {"F64", 8},     {"C64", 8},     {"unknown", 0}};
static_assert(std::size(kDTypes) == static_cast<size_t>(TensorDType::kUnknown) + 1);

absl::Status Invalid(const std::string& path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
}

}  // namespace

size_t TensorDTypeSize(TensorDType dtype) { return kDTypes[static_cast<size_t>(dtype)].size; }

std::string_view TensorDTypeName(TensorDType dtype) {
  return kDTypes[static_cast<size_t>(dtype)].name;
}

// The bytes (a mapping, or a string for FromBytes) and the tensors that point into them.
struct SafetensorsFile::Rep {
  std::string path;
  std::variant<internal::MappedFile, std::string> storage;
  std::vector<TensorInfo> tensors;
  std::map<std::string, std::string> metadata;

  std::span<const std::byte> bytes() const {
    if (const auto* mapped = std::get_if<internal::MappedFile>(&storage)) return mapped->bytes();
    const std::string& owned = std::get<std::string>(storage);
    return std::as_bytes(std::span(owned.data(), owned.size()));
  }
};

SafetensorsFile::SafetensorsFile(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
SafetensorsFile::~SafetensorsFile() = default;

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  ISTAR_ASSIGN_OR_RETURN(internal::MappedFile mapped, internal::MappedFile::Open(path));
  auto rep = std::make_unique<Rep>(Rep{.path = path, .storage = std::move(mapped)});
  return Index(std::move(rep));
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::FromBytes(std::string name,
                                                                            std::string bytes) {
  auto rep = std::make_unique<Rep>(Rep{.path = std::move(name), .storage = std::move(bytes)});
  return Index(std::move(rep));
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Index(std::unique_ptr<Rep> rep) {
  const std::span<const std::byte> bytes = rep->bytes();
  ISTAR_ASSIGN_OR_RETURN(internal::SafetensorsHeader header,
                         internal::ParseSafetensorsHeader(rep->path, bytes));
  rep->metadata = std::move(header.metadata);
  rep->tensors.reserve(header.tensors.size());
  for (internal::TensorEntry& entry : header.tensors) {
    // The parser checked begin <= end <= the data buffer's size.
    rep->tensors.push_back(TensorInfo{
        .name = std::move(entry.name),
        .dtype = entry.dtype,
        .dtype_name = std::move(entry.dtype_name),
        .shape = std::move(entry.shape),
        .data = bytes.subspan(header.data_offset + entry.begin, entry.end - entry.begin)});
  }
  return std::unique_ptr<SafetensorsFile>(new SafetensorsFile(std::move(rep)));
}

const std::string& SafetensorsFile::path() const { return rep_->path; }
std::span<const std::byte> SafetensorsFile::bytes() const { return rep_->bytes(); }
const std::vector<TensorInfo>& SafetensorsFile::tensors() const { return rep_->tensors; }
const std::map<std::string, std::string>& SafetensorsFile::metadata() const {
  return rep_->metadata;
}

const TensorInfo* SafetensorsFile::Find(std::string_view name) const {
  const auto found = std::lower_bound(
      rep_->tensors.begin(), rep_->tensors.end(), name,
      [](const TensorInfo& tensor, std::string_view key) { return tensor.name < key; });
  if (found == rep_->tensors.end() || found->name != name) return nullptr;
  return &*found;
}

namespace {

absl::Status CheckTensorToWrite(const std::string& path, const TensorToWrite& tensor) {
  if (tensor.name.empty() || tensor.name == "__metadata__") {
    return Invalid(path, absl::StrCat("'", tensor.name, "' is not a valid tensor name"));
  }
  const std::string context = absl::StrCat("tensor '", tensor.name, "': ");
  const size_t size = TensorDTypeSize(tensor.dtype);
  if (size == 0) return Invalid(path, absl::StrCat(context, "cannot write dtype 'unknown'"));
  const std::optional<uint64_t> count = internal::ElementCount(tensor.shape);
  if (!count.has_value() || *count > tensor.data.size() / size ||
      *count * size != tensor.data.size()) {
    return Invalid(path, absl::StrCat(context, "shape ", internal::FormatShape(tensor.shape),
                                      " of ", std::string(TensorDTypeName(tensor.dtype)),
                                      " does not match ", tensor.data.size(), " bytes of data"));
  }
  return absl::OkStatus();
}

// See Note [Safetensors data order] in WriteSafetensors' comment (arrays/safetensors.h): element
// size descending, then name, as Hugging Face's writer orders it.
std::vector<const TensorToWrite*> DataOrder(std::span<const TensorToWrite> tensors) {
  std::vector<const TensorToWrite*> order;
  for (const TensorToWrite& tensor : tensors) order.push_back(&tensor);
  std::sort(order.begin(), order.end(), [](const TensorToWrite* a, const TensorToWrite* b) {
    const size_t size_a = TensorDTypeSize(a->dtype);
    const size_t size_b = TensorDTypeSize(b->dtype);
    return size_a != size_b ? size_a > size_b : a->name < b->name;
  });
  return order;
}

// The length field and the header, padded with spaces to a multiple of 8 bytes.
absl::StatusOr<std::string> EncodeHeader(const std::string& path,
                                         const std::vector<const TensorToWrite*>& order,
                                         const std::map<std::string, std::string>& metadata) {
  // ordered_json keeps insertion order: metadata first, then the tensors in data order.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const TensorToWrite* tensor : order) {
    const uint64_t end = offset + tensor->data.size();
    header[tensor->name] = {{"dtype", TensorDTypeName(tensor->dtype)},
                            {"shape", tensor->shape},
                            {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::ordered_json::type_error& e) {  // A name that is not UTF-8.
    return Invalid(path, absl::StrCat("a tensor name or metadata string is not UTF-8: ", e.what()));
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string encoded(internal::kSafetensorsLengthFieldSize, '\0');
  for (size_t i = 0; i < encoded.size(); ++i) {
    encoded[i] = static_cast<char>((uint64_t{text.size()} >> (8 * i)) & 0xff);
  }
  return encoded + text;
}

}  // namespace

absl::Status WriteSafetensors(const std::string& path, std::span<const TensorToWrite> tensors,
                              const std::map<std::string, std::string>& metadata) {
  std::set<std::string_view> names;
  for (const TensorToWrite& tensor : tensors) {
    ISTAR_RETURN_IF_ERROR(CheckTensorToWrite(path, tensor));
    if (!names.insert(tensor.name).second) {
      return Invalid(path, absl::StrCat("tensor name '", tensor.name, "' appears twice"));
    }
  }
  const std::vector<const TensorToWrite*> order = DataOrder(tensors);
  ISTAR_ASSIGN_OR_RETURN(const std::string header, EncodeHeader(path, order, metadata));
  ISTAR_ASSIGN_OR_RETURN(internal::WritableFile file,
                         internal::WritableFile::CreateTemporaryFor(path));
  ISTAR_RETURN_IF_ERROR(file.Append(header));
  for (const TensorToWrite* tensor : order) {
    ISTAR_RETURN_IF_ERROR(file.Append(
        std::string_view(reinterpret_cast<const char*>(tensor->data.data()), tensor->data.size())));
  }
  return file.CommitTo(path);
}

}  // namespace istar::arrays

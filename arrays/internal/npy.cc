#include "arrays/internal/npy.h"

#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "arrays/internal/elements.h"
#include "arrays/internal/files.h"
#include "arrays/internal/npy_header.h"
#include "arrays/internal/shape.h"
#include "base/check.h"
#include "base/status_macros.h"

namespace istar::arrays::internal {
namespace {

constexpr std::string_view kMagic("\x93NUMPY", 6);
// NumPy aligns the data to this many bytes (numpy.lib.format.ARRAY_ALIGN).
constexpr size_t kAlignment = 64;

absl::Status Invalid(const std::string& path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
}

// Where the header text lies, from the magic string, the version and the header length field.
struct HeaderSpan {
  uint64_t offset = 0;
  uint64_t length = 0;
};

absl::StatusOr<HeaderSpan> ReadPrefix(const ReadOnlyFile& file) {
  constexpr uint64_t kVersion1PrefixSize = 10;  // Magic, 2 version bytes, 2-byte length.
  if (file.size() < kVersion1PrefixSize) {
    return Invalid(file.path(),
                   absl::StrCat("file is ", file.size(), " bytes, too short to be a .npy file"));
  }
  ISTAR_ASSIGN_OR_RETURN(const std::string prefix,
                         file.Read(0, std::min<uint64_t>(file.size(), 12)));
  if (!std::string_view(prefix).starts_with(kMagic)) {
    return Invalid(file.path(), "not a .npy file (the magic string \\x93NUMPY is missing)");
  }
  const auto byte = [&prefix](size_t i) { return static_cast<uint8_t>(prefix[i]); };
  const int major = byte(6);
  const int minor = byte(7);
  if (major < 1 || major > 3 || minor != 0) {
    return Invalid(file.path(), absl::StrFormat("unsupported .npy format version %d.%d "
                                                "(expected 1.0, 2.0 or 3.0)",
                                                major, minor));
  }
  HeaderSpan span;
  if (major == 1) {
    span = {.offset = 10, .length = byte(8) | (uint64_t{byte(9)} << 8)};
  } else if (prefix.size() < 12) {
    return Invalid(file.path(), "file ends inside the header length field");
  } else {
    span = {.offset = 12,
            .length = byte(8) | (uint64_t{byte(9)} << 8) | (uint64_t{byte(10)} << 16) |
                      (uint64_t{byte(11)} << 24)};
  }
  if (span.length > file.size() - span.offset) {
    return Invalid(file.path(),
                   absl::StrCat("header length ", span.length, " runs past the end of the file (",
                                file.size(), " bytes)"));
  }
  return span;
}

// Only little-endian floats: '<' is explicit, and '=' (native) and '|' (not applicable) are
// taken to describe a little-endian writer, as on every machine istar runs on.
absl::StatusOr<DType> ParseDescr(const std::string& path, const std::string& descr) {
  if (descr.size() == 3 && (descr[0] == '<' || descr[0] == '=' || descr[0] == '|')) {
    if (descr.ends_with("f4")) return DType::kFloat32;
    if (descr.ends_with("f8")) return DType::kFloat64;
  }
  if (descr == ">f4" || descr == ">f8") {
    return Invalid(path, absl::StrCat("big-endian dtype '", descr,
                                      "' is not supported (expected "
                                      "'<f4' or '<f8'; convert with array.astype('<f8'))"));
  }
  return Invalid(path, absl::StrCat("unsupported dtype '", descr, "' (expected '<f4' or '<f8')"));
}

// Checks that the bytes after the header are exactly the array's data.
absl::Status CheckDataLength(const std::string& path, const std::vector<uint64_t>& shape,
                             DType dtype, uint64_t data_length) {
  const std::optional<uint64_t> count = ElementCount(shape);
  const uint64_t size = ElementSize(dtype);
  if (!count.has_value() || *count > data_length / size || *count * size != data_length) {
    return Invalid(
        path, absl::StrCat("shape ", FormatShape(shape), " needs ",
                           count.has_value() ? absl::StrCat(*count) : "too many", " elements of ",
                           size, " bytes, but the file has ", data_length, " bytes of data"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Matrix> ReadNpy(const std::string& path) {
  ISTAR_ASSIGN_OR_RETURN(const ReadOnlyFile file, ReadOnlyFile::Open(path));
  ISTAR_ASSIGN_OR_RETURN(const HeaderSpan span, ReadPrefix(file));
  ISTAR_ASSIGN_OR_RETURN(const std::string text, file.Read(span.offset, span.length));
  absl::StatusOr<NpyHeader> header = ParseNpyHeader(text);
  if (!header.ok()) return Invalid(path, header.status().message());
  ISTAR_ASSIGN_OR_RETURN(const DType dtype, ParseDescr(path, header->descr));
  if (header->fortran_order) {
    return Invalid(path,
                   "fortran_order True is not supported; save a C-order array "
                   "(numpy.ascontiguousarray)");
  }
  ISTAR_ASSIGN_OR_RETURN(const MatrixShape shape, FlattenShape(header->shape, path));
  const uint64_t data_offset = span.offset + span.length;
  const uint64_t data_length = file.size() - data_offset;
  ISTAR_RETURN_IF_ERROR(CheckDataLength(path, header->shape, dtype, data_length));
  ISTAR_ASSIGN_OR_RETURN(const std::string data, file.Read(data_offset, data_length));
  Matrix matrix{.rows = shape.rows,
                .cols = shape.cols,
                .values = std::vector<double>(data_length / ElementSize(dtype))};
  DecodeLittleEndian(data, dtype, matrix.values);
  return matrix;
}

std::string NpyPreamble(DType dtype, int64_t rows, int64_t cols) {
  ISTAR_CHECK(dtype == DType::kFloat32 || dtype == DType::kFloat64)
      << "only float32 and float64 .npy files are written";
  std::string header =
      absl::StrFormat("{'descr': '%s', 'fortran_order': False, 'shape': (%d, %d), }",
                      dtype == DType::kFloat32 ? "<f4" : "<f8", rows, cols);
  constexpr size_t kPrefixSize = kMagic.size() + 4;         // Version 1.0 and a 2-byte length.
  const size_t unpadded = kPrefixSize + header.size() + 1;  // +1 for the final '\n'.
  header.append((kAlignment - unpadded % kAlignment) % kAlignment, ' ');
  header.push_back('\n');
  ISTAR_CHECK(header.size() <= 0xffff) << "a 2-D header always fits version 1.0";
  std::string preamble(kMagic);
  preamble.push_back('\x01');
  preamble.push_back('\x00');
  preamble.push_back(static_cast<char>(header.size() & 0xff));
  preamble.push_back(static_cast<char>(header.size() >> 8));
  return preamble + header;
}

}  // namespace istar::arrays::internal

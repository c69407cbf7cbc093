#include "arrays/internal/csv.h"

#include <charconv>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "arrays/internal/files.h"
#include "base/status_macros.h"

namespace istar::arrays::internal {
namespace {

// One comma-separated field with its surrounding spaces removed.
struct Field {
  std::string_view text;
  size_t column = 0;  // 1-based, of the first character after the spaces.
};

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::vector<Field> SplitFields(std::string_view line) {
  std::vector<Field> fields;
  size_t start = 0;
  while (true) {
    const size_t comma = line.find(',', start);
    const size_t stop = comma == std::string_view::npos ? line.size() : comma;
    size_t begin = start;
    size_t end = stop;
    while (begin < end && IsSpace(line[begin])) ++begin;
    while (end > begin && IsSpace(line[end - 1])) --end;
    fields.push_back({.text = line.substr(begin, end - begin), .column = begin + 1});
    if (comma == std::string_view::npos) return fields;
    start = comma + 1;
  }
}

// Parses the whole of `text` into `value`: std::errc() on success, invalid_argument if it is not
// a number, result_out_of_range if its magnitude is beyond a double's. std::from_chars also takes
// "nan", "inf" and "infinity" in any case; a leading '+' is allowed too, since some writers put
// one.
std::errc ParseNumber(std::string_view text, double& value) {
  if (text.size() > 1 && text[0] == '+' && text[1] != '-') text.remove_prefix(1);
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error == std::errc() && (text.empty() || end != text.data() + text.size())) {
    return std::errc::invalid_argument;
  }
  return error;
}

// Whether every field reads as a number; one beyond a double's range counts as a number here, so
// that it is reported as such rather than making its line a header.
bool AllNumbers(const std::vector<Field>& fields) {
  double value;
  for (const Field& field : fields) {
    if (ParseNumber(field.text, value) == std::errc::invalid_argument) return false;
  }
  return true;
}

struct CsvState {
  Matrix matrix;           // cols is fixed by the first non-blank line, header or not.
  size_t header_line = 0;  // 0 if there is no header.
};

absl::Status WrongFieldCount(const std::string& path, size_t line_number, size_t fields,
                             const CsvState& state) {
  std::string message = absl::StrCat(path, ":", line_number, ": expected ", state.matrix.cols,
                                     " values, got ", fields);
  if (state.matrix.rows == 0 && state.header_line != 0) {
    absl::StrAppend(&message, " (the header on line ", state.header_line, " has ",
                    state.matrix.cols, " fields)");
  }
  return absl::InvalidArgumentError(message);
}

// Appends the values of one data line to state.matrix.
absl::Status AppendRow(const std::string& path, size_t line_number,
                       const std::vector<Field>& fields, CsvState& state) {
  if (fields.size() != static_cast<size_t>(state.matrix.cols)) {
    return WrongFieldCount(path, line_number, fields.size(), state);
  }
  for (const Field& field : fields) {
    double value = 0;
    const std::errc error = ParseNumber(field.text, value);
    if (error != std::errc()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", line_number, ":", field.column,
          error == std::errc::result_out_of_range ? ": number out of the range of a double: '"
                                                  : ": expected a number, got '",
          std::string(field.text), "'"));
    }
    state.matrix.values.push_back(value);
  }
  ++state.matrix.rows;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Matrix> ReadCsv(const std::string& path) {
  ISTAR_ASSIGN_OR_RETURN(const ReadOnlyFile file, ReadOnlyFile::Open(path));
  ISTAR_ASSIGN_OR_RETURN(const std::string contents, file.Read(0, file.size()));
  std::string_view rest = contents;
  if (rest.starts_with("\xEF\xBB\xBF")) rest.remove_prefix(3);  // Spreadsheets write a BOM.
  CsvState state;
  bool first_line = true;
  for (size_t line_number = 1; !rest.empty(); ++line_number) {
    const size_t newline = rest.find('\n');
    std::string_view line = rest.substr(0, newline);
    rest.remove_prefix(newline == std::string_view::npos ? rest.size() : newline + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;  // Blank.
    const std::vector<Field> fields = SplitFields(line);
    if (std::exchange(first_line, false)) {
      state.matrix.cols = static_cast<int64_t>(fields.size());
      if (!AllNumbers(fields)) {  // A header: its names are not needed.
        state.header_line = line_number;
        continue;
      }
    }
    ISTAR_RETURN_IF_ERROR(AppendRow(path, line_number, fields, state));
  }
  if (state.matrix.rows == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": no rows",
        state.header_line == 0
            ? ""
            : absl::StrCat(" (line ", state.header_line,
                           " was taken as a header since not all of its fields are numbers)")));
  }
  return std::move(state.matrix);
}

}  // namespace istar::arrays::internal

// File: tasks/internal/text_file.h
// -----------------------------------------------------------------------------
// Whole-file reading and writing, and line-oriented parsing of the GLUE-style TSV files, shared
// by the task readers and the demo-data writers.
#ifndef ISTAR_TASKS_INTERNAL_TEXT_FILE_H_
#define ISTAR_TASKS_INTERNAL_TEXT_FILE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace istar::tasks::internal {

// The bytes of `path`. NotFound if it does not exist or cannot be opened.
[[nodiscard]] absl::StatusOr<std::string> ReadFile(const std::string& path);

// Writes `contents` to `path`, replacing it. Internal if it cannot be written.
[[nodiscard]] absl::Status WriteFile(const std::string& path, std::string_view contents);

// Creates `folder` and its parents if missing. Internal on failure.
[[nodiscard]] absl::Status MakeFolder(const std::string& folder);

// One line of a text file: its number (from 1) and its text without "\n" or "\r\n".
struct Line {
  int64_t number = 0;
  std::string_view text;
};

// Splits `contents` into lines; a UTF-8 byte-order mark at the start is dropped, and so is the
// empty "line" after a final newline. The views point into `contents`.
std::vector<Line> SplitLines(std::string_view contents);

// Splits a TSV row on tabs (GLUE files use no quoting, so a tab always separates fields).
std::vector<std::string_view> SplitTabs(std::string_view row);

// Removes ASCII whitespace at both ends.
std::string_view TrimAscii(std::string_view text);

// InvalidArgument "path:line: message".
absl::Status LineError(const std::string& path, int64_t line, std::string_view message);

}  // namespace istar::tasks::internal

#endif  // ISTAR_TASKS_INTERNAL_TEXT_FILE_H_

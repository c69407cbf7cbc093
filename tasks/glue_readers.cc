// Readers of the tab-separated classification files: GLUE SST-2 and QNLI, and SST-5.
#include <optional>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "tasks/internal/text_file.h"
#include "tasks/task.h"

namespace istar::tasks {
namespace {

using internal::Line;

// What differs between the three formats.
struct TsvFormat {
  Task task;
  std::string_view header;  // the exact first line
  size_t num_fields;
  // Fills text_a / text_b / label from the fields of a row; an error message if they are bad.
  std::optional<std::string> (*parse_row)(const std::vector<std::string_view>& fields,
                                          ClassificationExample& example);
};

// The label `text` if it is one of "0" .. "num_labels - 1", else nullopt.
std::optional<int64_t> ParseDigitLabel(std::string_view text, int64_t num_labels) {
  text = internal::TrimAscii(text);
  if (text.size() != 1 || text[0] < '0' || text[0] - '0' >= num_labels) return std::nullopt;
  return text[0] - '0';
}

std::string Escaped(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 40)) out += (c == '\t' ? std::string("\\t") : std::string(1, c));
  return out;
}

absl::StatusOr<TaskData> ReadTsv(const std::string& path, const TsvFormat& format) {
  ISTAR_ASSIGN_OR_RETURN(std::string contents, internal::ReadFile(path));
  const std::vector<Line> lines = internal::SplitLines(contents);
  if (lines.empty()) return internal::LineError(path, 1, "empty file, expected a header");
  if (lines[0].text != format.header) {
    return internal::LineError(path, 1,
                               absl::StrCat("expected the header '", Escaped(format.header),
                                            "', got '", Escaped(lines[0].text), "'"));
  }
  TaskData data{.task = format.task, .split = Split::kTrain, .path = path};
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::vector<std::string_view> fields = internal::SplitTabs(lines[i].text);
    if (fields.size() != format.num_fields) {
      return internal::LineError(path, lines[i].number,
                                 absl::StrCat("expected ", format.num_fields,
                                              " tab-separated fields, got ", fields.size()));
    }
    ClassificationExample example{.line = lines[i].number};
    if (std::optional<std::string> error = format.parse_row(fields, example)) {
      return internal::LineError(path, lines[i].number, *error);
    }
    data.classification.push_back(std::move(example));
  }
  return data;
}

std::string Text(std::string_view field) { return std::string(internal::TrimAscii(field)); }

using Fields = std::vector<std::string_view>;

std::optional<std::string> ParseSst2Row(const Fields& fields, ClassificationExample& example) {
  const std::optional<int64_t> label = ParseDigitLabel(fields[1], 2);
  if (!label) {
    return absl::StrCat("unknown label '", std::string(fields[1]), "', expected 0 or 1");
  }
  example.text_a = Text(fields[0]);
  example.label = *label;
  return std::nullopt;
}

// GLUE's label list for QNLI is ["entailment", "not_entailment"]; a label is its index there.
std::optional<std::string> ParseQnliRow(const Fields& fields, ClassificationExample& example) {
  const std::string_view label = internal::TrimAscii(fields[3]);
  if (label != "entailment" && label != "not_entailment") {
    return absl::StrCat("unknown label '", std::string(fields[3]),
                        "', expected entailment or not_entailment");
  }
  example.text_a = Text(fields[1]);
  example.text_b = Text(fields[2]);
  example.label = label == "entailment" ? 0 : 1;
  return std::nullopt;
}

std::optional<std::string> ParseSst5Row(const Fields& fields, ClassificationExample& example) {
  const std::optional<int64_t> label = ParseDigitLabel(fields[3], 5);
  if (!label) {
    return absl::StrCat("unknown label '", std::string(fields[3]), "', expected 0 .. 4");
  }
  example.text_a = Text(fields[2]);
  example.label = *label;
  return std::nullopt;
}

}  // namespace

absl::StatusOr<TaskData> ReadSst2Tsv(const std::string& path) {
  return ReadTsv(path, {Task::kSst2, "sentence\tlabel", 2, &ParseSst2Row});
}

absl::StatusOr<TaskData> ReadQnliTsv(const std::string& path) {
  return ReadTsv(path, {Task::kQnli, "index\tquestion\tsentence\tlabel", 4, &ParseQnliRow});
}

absl::StatusOr<TaskData> ReadSst5(const std::string& path) {
  return ReadTsv(path, {Task::kSst5, "\tid\tsentence\tsentiment", 4, &ParseSst5Row});
}

}  // namespace istar::tasks

// Readers of the tab-separated classification files: the GLUE tasks (SST-2, QNLI, CoLA, MRPC,
// QQP, RTE, STS-B, MNLI) in the files of GLUE's download script, and SST-5. docs/tasks.md shows
// each format.
#include <charconv>
#include <cmath>
#include <optional>
#include <span>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "tasks/internal/text_file.h"
#include "tasks/task.h"

namespace istar::tasks {
namespace {

using internal::Line;
using Fields = std::vector<std::string_view>;

// What differs between the formats.
struct TsvFormat {
  Task task;
  // The accepted first lines, each with its own number of fields (MNLI's train and dev files
  // differ); empty when the file has no header (CoLA), and then every line is a row of
  // `num_fields` fields.
  std::span<const std::string_view> headers;
  size_t num_fields = 0;  // only for a file without a header
  // How the header error names what was expected; "" to quote the one header.
  std::string_view expected_header = "";
  // True: a row with the wrong number of fields is skipped and its line recorded in
  // TaskData::skipped_lines (QQP, Note [QQP's malformed rows]); false: it is an error.
  bool skip_wrong_field_count = false;
  // Fills text_a / text_b / label / score from the fields of a row; an error message if they are
  // bad.
  std::optional<std::string> (*parse_row)(const Fields& fields, ClassificationExample& example);
};

// The label `text` if it is one of "0" .. "num_labels - 1", else nullopt.
std::optional<int64_t> ParseDigitLabel(std::string_view text, int64_t num_labels) {
  text = internal::TrimAscii(text);
  if (text.size() != 1 || text[0] < '0' || text[0] - '0' >= num_labels) return std::nullopt;
  return text[0] - '0';
}

// "a or b", "a, b or c".
std::string OneOf(std::span<const std::string_view> names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
}

// The label whose catalogue name is `text` (so the file's label strings and the catalogue's label
// order are one list); an error message if there is none.
std::optional<std::string> ParseNamedLabel(std::string_view text, Task task, int64_t& label) {
  const std::span<const std::string_view> names = TaskSpecOf(task).labels;
  const std::string_view trimmed = internal::TrimAscii(text);
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == trimmed) {
      label = static_cast<int64_t>(i);
      return std::nullopt;
    }
  }
  return absl::StrCat("unknown label '", std::string(text), "', expected ", OneOf(names));
}

// A label "0" / "1" (SST-2, CoLA, MRPC, QQP); an error message otherwise.
std::optional<std::string> ParseBinaryLabel(std::string_view text, int64_t& label) {
  const std::optional<int64_t> parsed = ParseDigitLabel(text, 2);
  if (!parsed) return absl::StrCat("unknown label '", std::string(text), "', expected 0 or 1");
  label = *parsed;
  return std::nullopt;
}

std::string Escaped(std::string_view text, size_t limit = 40) {
  std::string out;
  for (char c : text.substr(0, limit)) {
    out += (c == '\t' ? std::string("\\t") : std::string(1, c));
  }
  return out;
}

absl::StatusOr<TaskData> ReadTsv(const std::string& path, const TsvFormat& format) {
  ISTAR_ASSIGN_OR_RETURN(std::string contents, internal::ReadFile(path));
  const std::vector<Line> lines = internal::SplitLines(contents);
  if (lines.empty()) {
    return internal::LineError(
        path, 1,
        format.headers.empty() ? "empty file, expected rows" : "empty file, expected a header");
  }
  size_t num_fields = format.num_fields;
  size_t first_row = 0;
  if (!format.headers.empty()) {
    const std::string_view* header = nullptr;
    for (const std::string_view& candidate : format.headers) {
      if (lines[0].text == candidate) header = &candidate;
    }
    if (header == nullptr) {
      const std::string expected = format.expected_header.empty()
                                       ? absl::StrCat("'", Escaped(format.headers[0], 200), "'")
                                       : std::string(format.expected_header);
      return internal::LineError(
          path, 1,
          absl::StrCat("expected the header ", expected, ", got '", Escaped(lines[0].text), "'"));
    }
    num_fields = internal::SplitTabs(*header).size();
    first_row = 1;
  }
  TaskData data{.task = format.task, .split = Split::kTrain, .path = path};
  for (size_t i = first_row; i < lines.size(); ++i) {
    const std::vector<std::string_view> fields = internal::SplitTabs(lines[i].text);
    if (fields.size() != num_fields) {
      if (format.skip_wrong_field_count) {
        data.skipped_lines.push_back(lines[i].number);
        continue;
      }
      return internal::LineError(
          path, lines[i].number,
          absl::StrCat("expected ", num_fields, " tab-separated fields, got ", fields.size()));
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

std::optional<std::string> ParseSst2Row(const Fields& fields, ClassificationExample& example) {
  if (auto error = ParseBinaryLabel(fields[1], example.label)) return error;
  example.text_a = Text(fields[0]);
  return std::nullopt;
}

// GLUE's label list for QNLI is ["entailment", "not_entailment"]; a label is its index there.
std::optional<std::string> ParseQnliRow(const Fields& fields, ClassificationExample& example) {
  if (auto error = ParseNamedLabel(fields[3], Task::kQnli, example.label)) return error;
  example.text_a = Text(fields[1]);
  example.text_b = Text(fields[2]);
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

// source, label, author's mark (ignored), sentence.
std::optional<std::string> ParseColaRow(const Fields& fields, ClassificationExample& example) {
  if (auto error = ParseBinaryLabel(fields[1], example.label)) return error;
  example.text_a = Text(fields[3]);
  return std::nullopt;
}

// Quality, #1 ID, #2 ID, #1 String, #2 String.
std::optional<std::string> ParseMrpcRow(const Fields& fields, ClassificationExample& example) {
  if (auto error = ParseBinaryLabel(fields[0], example.label)) return error;
  example.text_a = Text(fields[3]);
  example.text_b = Text(fields[4]);
  return std::nullopt;
}

// id, qid1, qid2, question1, question2, is_duplicate.
std::optional<std::string> ParseQqpRow(const Fields& fields, ClassificationExample& example) {
  if (auto error = ParseBinaryLabel(fields[5], example.label)) return error;
  example.text_a = Text(fields[3]);
  example.text_b = Text(fields[4]);
  return std::nullopt;
}

// index, sentence1, sentence2, label.
std::optional<std::string> ParseRteRow(const Fields& fields, ClassificationExample& example) {
  if (auto error = ParseNamedLabel(fields[3], Task::kRte, example.label)) return error;
  example.text_a = Text(fields[1]);
  example.text_b = Text(fields[2]);
  return std::nullopt;
}

// index, genre, filename, year, old_index, source1, source2, sentence1, sentence2, score.
std::optional<std::string> ParseStsbRow(const Fields& fields, ClassificationExample& example) {
  const std::string_view text = internal::TrimAscii(fields[9]);
  double score = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), score);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(score)) {
    return absl::StrCat("score '", std::string(fields[9]), "' is not a number");
  }
  if (score < 0 || score > 5) {
    return absl::StrCat("score ", std::string(text), " lies outside [0, 5]");
  }
  example.text_a = Text(fields[7]);
  example.text_b = Text(fields[8]);
  example.label = -1;
  example.score = score;
  return std::nullopt;
}

// sentence1 and sentence2 are fields 8 and 9 of both MNLI layouts; gold_label is the last.
std::optional<std::string> ParseMnliRow(const Fields& fields, ClassificationExample& example) {
  if (auto error = ParseNamedLabel(fields.back(), Task::kMnli, example.label)) return error;
  example.text_a = Text(fields[8]);
  example.text_b = Text(fields[9]);
  return std::nullopt;
}

constexpr std::string_view kSst2Header[] = {"sentence\tlabel"};
constexpr std::string_view kQnliHeader[] = {"index\tquestion\tsentence\tlabel"};
constexpr std::string_view kSst5Header[] = {"\tid\tsentence\tsentiment"};
constexpr std::string_view kMrpcHeader[] = {"Quality\t#1 ID\t#2 ID\t#1 String\t#2 String"};
constexpr std::string_view kQqpHeader[] = {"id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate"};
constexpr std::string_view kRteHeader[] = {"index\tsentence1\tsentence2\tlabel"};
constexpr std::string_view kStsbHeader[] = {
    "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore"};
constexpr std::string_view kMnliHeaders[] = {
    // train.tsv
    "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
    "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label",
    // dev_matched.tsv, dev_mismatched.tsv
    "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
    "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\tlabel4\t"
    "label5\tgold_label",
};

}  // namespace

absl::StatusOr<TaskData> ReadSst2Tsv(const std::string& path) {
  return ReadTsv(path, {.task = Task::kSst2, .headers = kSst2Header, .parse_row = &ParseSst2Row});
}

absl::StatusOr<TaskData> ReadQnliTsv(const std::string& path) {
  return ReadTsv(path, {.task = Task::kQnli, .headers = kQnliHeader, .parse_row = &ParseQnliRow});
}

absl::StatusOr<TaskData> ReadSst5(const std::string& path) {
  return ReadTsv(path, {.task = Task::kSst5, .headers = kSst5Header, .parse_row = &ParseSst5Row});
}

absl::StatusOr<TaskData> ReadColaTsv(const std::string& path) {
  return ReadTsv(path, {.task = Task::kCola, .num_fields = 4, .parse_row = &ParseColaRow});
}

absl::StatusOr<TaskData> ReadMrpcTsv(const std::string& path) {
  return ReadTsv(path, {.task = Task::kMrpc, .headers = kMrpcHeader, .parse_row = &ParseMrpcRow});
}

// Note [QQP's malformed rows]
// GLUE's QQP files are written without quoting, and the original Quora release has questions
// that held a newline or a tab, so some rows of train.tsv come out with fewer (or more) than 6
// fields. Hugging Face's loaders drop such rows (`datasets`' GLUE script filters rows with a
// missing column; the transformers processor catches the IndexError), so the published numbers
// are trained without them. ReadQqpTsv does the same, and records each skipped line so that a
// caller can say how many were dropped; a row that does have 6 fields must still be valid.
absl::StatusOr<TaskData> ReadQqpTsv(const std::string& path) {
  return ReadTsv(path, {.task = Task::kQqp,
                        .headers = kQqpHeader,
                        .skip_wrong_field_count = true,
                        .parse_row = &ParseQqpRow});
}

absl::StatusOr<TaskData> ReadRteTsv(const std::string& path) {
  return ReadTsv(path, {.task = Task::kRte, .headers = kRteHeader, .parse_row = &ParseRteRow});
}

absl::StatusOr<TaskData> ReadStsbTsv(const std::string& path) {
  return ReadTsv(path, {.task = Task::kStsb, .headers = kStsbHeader, .parse_row = &ParseStsbRow});
}

absl::StatusOr<TaskData> ReadMnliTsv(const std::string& path) {
  return ReadTsv(path, {.task = Task::kMnli,
                        .headers = kMnliHeaders,
                        .expected_header =
                            "of MNLI's train.tsv (12 fields) or dev_matched.tsv / "
                            "dev_mismatched.tsv (16 fields), 'index\\tpromptID\\tpairID\\tgenre\\t"
                            "sentence1_binary_parse\\t...'",
                        .parse_row = &ParseMnliRow});
}

}  // namespace istar::tasks

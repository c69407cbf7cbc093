#include "sweeps/sweep.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "catalog/catalog.h"
#include "sweeps/internal/document.h"
#include "sweeps/internal/expand.h"
#include "sweeps/internal/yaml_fields.h"

namespace istar::sweeps {
namespace {

// The length of the well-formed UTF-8 sequence at text[i] (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF), or 0 if there is none.
size_t Utf8SequenceLength(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  if (lead < 0xc2 || lead > 0xf4) return 0;  // a continuation byte, an overlong or too large
  const size_t length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
  unsigned char low = 0x80, high = 0xbf;  // the range of the first continuation byte
  if (lead == 0xe0) low = 0xa0;
  if (lead == 0xed) high = 0x9f;
  if (lead == 0xf0) low = 0x90;
  if (lead == 0xf4) high = 0x8f;
  if (i + length > text.size() || byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (size_t k = i + 2; k < i + length; ++k) {
    if (byte(k) < 0x80 || byte(k) > 0xbf) return 0;
  }
  return length;
}

// yaml-cpp passes invalid UTF-8 through into scalars, and a trial's canonical JSON must be valid
// UTF-8, so the text is checked once, up front.
absl::Status CheckUtf8(std::string_view text, const std::string& source) {
  int line = 1, column = 1;
  for (size_t i = 0; i < text.size();) {
    const size_t length = Utf8SequenceLength(text, i);
    if (length == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ":", line, ":", column, ": the file is not valid UTF-8 (byte 0x",
                       absl::Hex(static_cast<unsigned char>(text[i]), absl::kZeroPad2), ")"));
    }
    column = text[i] == '\n' ? 1 : column + 1;
    line += text[i] == '\n' ? 1 : 0;
    i += length;
  }
  return absl::OkStatus();
}

// The one place where yaml-cpp's exceptions are caught (docs/architecture.md, "Conventions"): a
// parser error is bad input; any other YAML::Exception means this module used yaml-cpp wrongly.
absl::StatusOr<internal::SweepDocument> ReadYaml(const std::string& yaml,
                                                 const std::string& source) {
  try {
    const YAML::Node root = YAML::Load(yaml);
    return internal::ReadDocument(internal::Reader(source), root);
  } catch (const YAML::ParserException& error) {
    return absl::InvalidArgumentError(absl::StrCat(source, ":", error.mark.line + 1, ":",
                                                   error.mark.column + 1,
                                                   ": malformed YAML: ", error.msg));
  } catch (const YAML::Exception& error) {
    return absl::InternalError(absl::StrCat(source, ": yaml-cpp failed: ", error.what()));
  }
}

}  // namespace

std::optional<LrSchedule> ParseLrSchedule(std::string_view name) {
  for (const LrSchedule schedule : {LrSchedule::kLinear, LrSchedule::kConstant}) {
    if (name == LrScheduleName(schedule)) return schedule;
  }
  return std::nullopt;
}

std::optional<double> TrialSpec::Parameter(const std::string& name) const {
  const catalog::RegularizerSpec* spec = catalog::FindRegularizer(regularizer);
  if (spec == nullptr || spec->FindParameter(name) == nullptr) return std::nullopt;
  if (name == "lambda") return lambda;
  if (name == "zeta") return zeta;
  const auto it = parameters.find(name);
  if (it == parameters.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<SweepSpec> ParseSweep(const std::string& yaml, const std::string& source) {
  ISTAR_RETURN_IF_ERROR(CheckUtf8(yaml, source));
  ISTAR_ASSIGN_OR_RETURN(const internal::SweepDocument doc, ReadYaml(yaml, source));
  ISTAR_ASSIGN_OR_RETURN(std::vector<TrialSpec> trials, internal::ExpandTrials(doc));
  SweepSpec sweep;
  sweep.name = doc.name;
  sweep.source = source;
  sweep.yaml = yaml;
  for (const internal::FolderEntry& model : doc.models) sweep.models[model.name] = model.folder;
  for (const internal::FolderEntry& task : doc.tasks) sweep.tasks[task.name] = task.folder;
  sweep.training = doc.training;
  sweep.launch = doc.launch;
  sweep.trials = std::move(trials);
  return sweep;
}

absl::StatusOr<SweepSpec> LoadSweepFile(const std::string& path) {
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot read the sweep file: is a directory"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot read the sweep file: ", std::strerror(errno)));
  }
  const std::string yaml{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) return absl::NotFoundError(absl::StrCat(path, ": error reading the sweep file"));
  return ParseSweep(yaml, path);
}

}  // namespace istar::sweeps

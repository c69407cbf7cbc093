// LoadSweepText: a sweep file's text with "key.path=value" overrides applied (yaml-cpp).
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "sweeps/sweep.h"

namespace istar::sweeps {
namespace {

// Applies one "a.b.c=value" override to `root` (see LoadSweepText).
absl::Status ApplyOverride(YAML::Node root, const std::string& assignment) {
  const size_t equals = assignment.find('=');
  const std::vector<std::string> keys = absl::StrSplit(
      assignment.substr(0, equals == std::string::npos ? 0 : equals), '.', absl::SkipEmpty());
  if (equals == std::string::npos || keys.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--set: expected key.path=value, got \"", assignment, "\""));
  }
  const YAML::Node value = YAML::Load(assignment.substr(equals + 1));
  YAML::Node node = root;
  for (size_t i = 0; i + 1 < keys.size(); ++i) {
    if (node[keys[i]] && !node[keys[i]].IsMap()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--set ", assignment, ": '", keys[i], "' is not a map"));
    }
    // YAML::Node assignment would overwrite the node; reset() rebinds the handle.
    node.reset(node[keys[i]]);
  }
  const YAML::Node current = node[keys.back()];
  if (current && current.IsSequence() && !value.IsSequence()) {
    // A fresh node: assigning one YAML::Node to another aliases them, which would nest the list.
    YAML::Node list(YAML::NodeType::Sequence);
    list.push_back(value);
    node[keys.back()] = list;
  } else {
    node[keys.back()] = value;
  }
  return absl::OkStatus();
}

}  // namespace

// Without overrides the text is kept as written, so that error messages point at the user's
// lines.
absl::StatusOr<std::string> LoadSweepText(const std::string& path,
                                          std::span<const std::string> overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read the file"));
  std::string text{std::istreambuf_iterator<char>(in), {}};
  if (overrides.empty()) return text;
  // yaml-cpp's exceptions stop here (docs/architecture.md, "Conventions").
  try {
    YAML::Node root = YAML::Load(text);
    for (const std::string& assignment : overrides) {
      ISTAR_RETURN_IF_ERROR(ApplyOverride(root, assignment));
    }
    YAML::Emitter out;
    out << root;
    return std::string(out.c_str());
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", e.what()));
  }
}

}  // namespace istar::sweeps

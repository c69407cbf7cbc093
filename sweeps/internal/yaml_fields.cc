#include "sweeps/internal/yaml_fields.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace istar::sweeps::internal {
namespace {

// A quoted scalar ("32", '1e-5') is a string in YAML, so it is never read as a number.
bool IsQuoted(const YAML::Node& node) {
  return node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str";
}

// YAML 1.2's core-schema decimal number, [-+]? (.d+ | d+ (.d*)?) ([eE] [-+]? d+)?: stricter than
// std::from_chars, which also takes "inf", "nan" and hexadecimal digits.
bool IsDecimalNumber(std::string_view text) {
  size_t i = 0;
  auto digits = [&] {
    const size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    return i > start;
  };
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
  const bool integer_part = digits();
  bool fraction_part = false;
  if (i < text.size() && text[i] == '.') {
    ++i;
    fraction_part = digits();
  }
  if (!integer_part && !fraction_part) return false;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
    if (!digits()) return false;
  }
  return i == text.size();
}

// The text of a plain scalar without the leading '+' that std::from_chars does not accept.
std::string_view NumberText(const YAML::Node& node) {
  std::string_view text = node.Scalar();
  if (!text.empty() && text[0] == '+') text.remove_prefix(1);
  return text;
}

// The integer a plain scalar spells in decimal, or nullopt ("1.5", "abc", "'3'", a list).
std::optional<int64_t> ParseInteger(const YAML::Node& node) {
  if (!node.IsScalar() || IsQuoted(node)) return std::nullopt;
  const std::string_view text = NumberText(node);
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The finite number a plain scalar spells in decimal, or nullopt.
std::optional<double> ParseNumber(const YAML::Node& node) {
  if (!node.IsScalar() || IsQuoted(node) || !IsDecimalNumber(node.Scalar())) return std::nullopt;
  const std::string_view text = NumberText(node);
  double value = 0.0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

bool Bounds::Contains(double value) const {
  return (min_open ? value > min : value >= min) && value <= max;
}

std::string Bounds::Describe(bool integer) const {
  // Integer bounds print as integers: "in [1, 1000000]", not "in [1, 1e+06]".
  auto number = [integer](double x) {
    return integer ? absl::StrCat(static_cast<int64_t>(x)) : absl::StrCat(x);
  };
  const char* noun = integer ? "an integer" : "a number";
  if (std::isfinite(min) && std::isfinite(max)) {
    return absl::StrCat(noun, " in [", number(min), ", ", number(max), "]");
  }
  if (std::isfinite(min)) return absl::StrCat(noun, min_open ? " > " : " >= ", number(min));
  return noun;
}

const Field* MapFields::Find(std::string_view key) const {
  for (const MapEntry& entry : entries_) {
    if (entry.key == key) return &entry.value;
  }
  return nullptr;
}

Field Reader::Root(const YAML::Node& root) const {
  return Field{
      .node = root, .path = "", .mark = root.Mark().is_null() ? YAML::Mark() : root.Mark()};
}

absl::Status Reader::Error(const Field& field, const std::string& message) const {
  return absl::InvalidArgumentError(absl::StrCat(source_, ":", field.mark.line + 1, ":",
                                                 field.mark.column + 1, ": ", field.path,
                                                 field.path.empty() ? "" : ": ", message));
}

absl::StatusOr<MapFields> Reader::Map(const Field& field) const {
  if (!field.node.IsMap()) {
    return Error(field, absl::StrCat("expected a map, got ", DescribeNode(field.node)));
  }
  std::vector<MapEntry> entries;
  for (auto it = field.node.begin(); it != field.node.end(); ++it) {
    // Copies: the iterator's operator-> returns a proxy, so a reference into it would dangle.
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    if (!key.IsScalar()) {
      return Error(Field{.node = key, .path = field.path, .mark = key.Mark()},
                   absl::StrCat("expected a key name, got ", DescribeNode(key)));
    }
    // An empty value (`key:` then a newline) is marked where the next token starts; the key's
    // own position is where a reader looks.
    const bool use_key_mark = value.IsNull() || value.Mark().is_null();
    MapEntry entry{.key = key.Scalar(),
                   .key_mark = key.Mark(),
                   .value = Field{.node = value,
                                  .path = ChildPath(field.path, key.Scalar()),
                                  .mark = use_key_mark ? key.Mark() : value.Mark()}};
    for (const MapEntry& earlier : entries) {
      if (earlier.key != entry.key) continue;
      return Error(entry.AtKey(),
                   absl::StrCat("duplicate key '", entry.key, "' (first given at ",
                                earlier.key_mark.line + 1, ":", earlier.key_mark.column + 1, ")"));
    }
    entries.push_back(std::move(entry));
  }
  return MapFields(field, std::move(entries));
}

absl::StatusOr<MapFields> Reader::Map(const Field& field,
                                      std::span<const std::string_view> allowed) const {
  absl::StatusOr<MapFields> map = Map(field);
  if (!map.ok()) return map;
  for (const MapEntry& entry : map->entries()) {
    if (std::find(allowed.begin(), allowed.end(), entry.key) != allowed.end()) continue;
    return Error(entry.AtKey(), absl::StrCat("unknown key '", entry.key, "'; allowed keys are ",
                                             JoinNames(allowed)));
  }
  return map;
}

absl::StatusOr<Field> Reader::Require(const MapFields& map, std::string_view key) const {
  if (const Field* value = map.Find(key)) return *value;
  return Error(map.self(), absl::StrCat("missing required key '", std::string(key), "'"));
}

absl::StatusOr<std::vector<Field>> Reader::List(const Field& field, std::string_view what) const {
  if (!field.node.IsSequence() || field.node.size() == 0) {
    return Error(field, absl::StrCat("expected a non-empty list of ", std::string(what), ", got ",
                                     DescribeNode(field.node)));
  }
  std::vector<Field> elements;
  elements.reserve(field.node.size());
  for (const YAML::Node& element : field.node) {
    const bool has_mark = !element.IsNull() && !element.Mark().is_null();
    elements.push_back(Field{.node = element,
                             .path = IndexPath(field.path, elements.size()),
                             .mark = has_mark ? element.Mark() : field.mark});
  }
  return elements;
}

absl::StatusOr<std::string> Reader::String(const Field& field, bool non_empty) const {
  const char* expected =
      non_empty ? "expected a non-empty string, got " : "expected a string, got ";
  if (!field.node.IsScalar() || (non_empty && field.node.Scalar().empty())) {
    return Error(field, absl::StrCat(expected, DescribeNode(field.node)));
  }
  return field.node.Scalar();
}

absl::StatusOr<int64_t> Reader::Int(const Field& field, const Bounds& bounds) const {
  const std::optional<int64_t> value = ParseInteger(field.node);
  if (value.has_value() && bounds.Contains(static_cast<double>(*value))) return *value;
  const std::string got = value.has_value() ? absl::StrCat(*value) : DescribeNode(field.node);
  return Error(field, absl::StrCat("expected ", bounds.Describe(/*integer=*/true), ", got ", got));
}

absl::StatusOr<double> Reader::Double(const Field& field, const Bounds& bounds) const {
  const std::optional<double> value = ParseNumber(field.node);
  if (value.has_value() && bounds.Contains(*value)) return *value;
  // A number out of range is shown as written ("1.5", "1e-7"), anything else described.
  const std::string got = value.has_value() ? field.node.Scalar() : DescribeNode(field.node);
  return Error(field, absl::StrCat("expected ", bounds.Describe(/*integer=*/false), ", got ", got));
}

std::string DescribeNode(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return node.size() == 0 ? "an empty list" : "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Scalar:
      return absl::StrCat(IsQuoted(node) ? "the quoted string '" : "'", node.Scalar(), "'");
    default:
      return "nothing";
  }
}

std::string JoinNames(std::span<const std::string_view> names) {
  std::string joined;
  for (const std::string_view name : names) {
    if (!joined.empty()) joined += ", ";
    joined += name;
  }
  return joined;
}

std::string ChildPath(std::string_view parent, std::string_view key) {
  std::string path(parent);
  if (!path.empty()) path += '.';
  return path += key;
}

std::string IndexPath(std::string_view parent, size_t index) {
  return absl::StrCat(std::string(parent), "[", index, "]");
}

}  // namespace istar::sweeps::internal

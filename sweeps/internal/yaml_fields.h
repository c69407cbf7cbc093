// File: sweeps/internal/yaml_fields.h
// -----------------------------------------------------------------------------
// Typed, located reading of a yaml-cpp node tree. Every value of a sweep file is read through a
// Reader, so every error has the same shape, "source:line:column: field.path: message", with the
// 1-based position of the offending value (yaml-cpp's marks are 0-based).
//
// Nothing here throws: nodes are only ever iterated and inspected, never looked up with
// operator[] (which creates zombie nodes whose use throws) nor converted with as<T>() (which
// throws on a bad value). Scalars are parsed here, so messages can say what was expected.
#ifndef ISTAR_SWEEPS_INTERNAL_YAML_FIELDS_H_
#define ISTAR_SWEEPS_INTERNAL_YAML_FIELDS_H_

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace istar::sweeps::internal {

// A node of the file with its field path ("grid.regularizers[1].istar.zeta[0]"; empty for the
// document itself) and the position its messages point at.
struct Field {
  YAML::Node node;
  std::string path;
  YAML::Mark mark;
};

// The numbers a numeric field accepts, and how a message describes them.
struct Bounds {
  double min = -std::numeric_limits<double>::infinity();
  bool min_open = false;  // true: min itself is excluded
  double max = std::numeric_limits<double>::infinity();

  bool Contains(double value) const;
  // "an integer >= 1", "a number in [0, 1]", "a number > 0", "a number".
  std::string Describe(bool integer) const;
};

inline constexpr Bounds kAnyNumber{};
inline constexpr Bounds kPositive{.min = 0.0, .min_open = true};
inline constexpr Bounds kNonNegative{.min = 0.0};
inline constexpr Bounds kUnitInterval{.min = 0.0, .max = 1.0};
inline constexpr Bounds kAtLeastOne{.min = 1.0};
inline constexpr Bounds kAtLeastTwo{.min = 2.0};

// One `key: value` pair of a map.
struct MapEntry {
  std::string key;
  YAML::Mark key_mark;
  Field value;  // its path is the key's: "grid.seed"

  // The value's path at the key's position: where a message about the key itself points.
  Field AtKey() const { return Field{.node = value.node, .path = value.path, .mark = key_mark}; }
};

// The entries of a map node, in file order, each key checked to be a unique scalar.
class MapFields {
 public:
  MapFields(Field self, std::vector<MapEntry> entries)
      : self_(std::move(self)), entries_(std::move(entries)) {}

  const Field& self() const { return self_; }
  const std::vector<MapEntry>& entries() const { return entries_; }
  // The value of `key`, or nullptr when the map does not have it.
  const Field* Find(std::string_view key) const;

 private:
  Field self_;
  std::vector<MapEntry> entries_;
};

// Reads the nodes of one file, named `source` in messages.
class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  // The document's root node as a Field at line 1, column 1 when it has no position of its own.
  Field Root(const YAML::Node& root) const;

  // InvalidArgument "source:line:column: path: message" for `field`.
  [[nodiscard]] absl::Status Error(const Field& field, const std::string& message) const;

  // A map with any keys; InvalidArgument for another node type, a non-scalar key or a key given
  // twice (yaml-cpp keeps both copies of a duplicated key, so the check is made here).
  [[nodiscard]] absl::StatusOr<MapFields> Map(const Field& field) const;
  // As above, and every key must be one of `allowed` (the message lists them).
  [[nodiscard]] absl::StatusOr<MapFields> Map(const Field& field,
                                              std::span<const std::string_view> allowed) const;
  // The value of a key the map must have; InvalidArgument at the map when it is missing.
  [[nodiscard]] absl::StatusOr<Field> Require(const MapFields& map, std::string_view key) const;

  // The elements of a non-empty list. `what` describes one element for messages ("integers").
  [[nodiscard]] absl::StatusOr<std::vector<Field>> List(const Field& field,
                                                        std::string_view what) const;

  // A scalar's text; `non_empty` rejects "".
  [[nodiscard]] absl::StatusOr<std::string> String(const Field& field, bool non_empty) const;
  // A plain (unquoted) decimal integer within `bounds`.
  [[nodiscard]] absl::StatusOr<int64_t> Int(const Field& field, const Bounds& bounds) const;
  // A plain finite decimal number within `bounds`; "-5" and "-5.0" read the same.
  [[nodiscard]] absl::StatusOr<double> Double(const Field& field, const Bounds& bounds) const;

 private:
  std::string source_;
};

// "a list", "a map", "nothing" or the scalar quoted, for "expected X, got Y" messages.
std::string DescribeNode(const YAML::Node& node);

// "a, b, c". (Debian's absl::StrJoin cannot format std::string_view: absl::string_view is its own
// type there.)
std::string JoinNames(std::span<const std::string_view> names);

// The field of `key` inside `parent`, and of element `index` inside a list `parent`.
std::string ChildPath(std::string_view parent, std::string_view key);
std::string IndexPath(std::string_view parent, size_t index);

// Moves a read value into `out`, so that a field's reader is one line per setting.
template <typename T>
[[nodiscard]] absl::Status Store(absl::StatusOr<T> value, T& out) {
  if (!value.ok()) return value.status();
  out = *std::move(value);
  return absl::OkStatus();
}

}  // namespace istar::sweeps::internal

#endif  // ISTAR_SWEEPS_INTERNAL_YAML_FIELDS_H_

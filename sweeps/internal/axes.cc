#include "sweeps/internal/axes.h"

#include <algorithm>
#include <functional>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"

namespace istar::sweeps::internal {
namespace {

constexpr std::string_view kNumberDistributions[] = {"uniform", "log_uniform", "choice"};
constexpr std::string_view kIntegerDistributions[] = {"uniform", "choice"};
constexpr std::string_view kNameDistributions[] = {"choice"};

// Reads and checks one value of an axis.
template <typename T>
using ValueReader = std::function<absl::StatusOr<T>(const Field&)>;

// A single value or a non-empty list of values; `what` names the values in messages ("integers").
template <typename T>
absl::StatusOr<std::vector<T>> ReadValues(const Reader& reader, const Field& field,
                                          std::string_view what, const ValueReader<T>& read) {
  std::vector<T> values;
  if (field.node.IsScalar()) {
    ISTAR_ASSIGN_OR_RETURN(T value, read(field));
    values.push_back(std::move(value));
    return values;
  }
  ISTAR_ASSIGN_OR_RETURN(const std::vector<Field> elements, reader.List(field, what));
  for (const Field& element : elements) {
    ISTAR_ASSIGN_OR_RETURN(T value, read(element));
    values.push_back(std::move(value));
  }
  return values;
}

// `[low, high]` with low < high.
template <typename T>
absl::StatusOr<std::pair<T, T>> ReadRange(const Reader& reader, const Field& field,
                                          const ValueReader<T>& read) {
  if (!field.node.IsSequence() || field.node.size() != 2) {
    return reader.Error(field,
                        absl::StrCat("expected [low, high], got ", DescribeNode(field.node)));
  }
  ISTAR_ASSIGN_OR_RETURN(const std::vector<Field> ends, reader.List(field, "bounds"));
  ISTAR_ASSIGN_OR_RETURN(T low, read(ends[0]));
  ISTAR_ASSIGN_OR_RETURN(T high, read(ends[1]));
  if (!(low < high)) {
    return reader.Error(field, absl::StrCat("expected low < high, got [", low, ", ", high, "]"));
  }
  return std::pair<T, T>(std::move(low), std::move(high));
}

// `{choice: [...]}`, `{uniform: [a, b]}` or `{log_uniform: [a, b]}`, the kinds allowed by `kinds`.
template <typename T>
absl::StatusOr<Axis<T>> ReadDistribution(const Reader& reader, const Field& field,
                                         std::span<const std::string_view> kinds, bool sampling,
                                         std::string_view what, const ValueReader<T>& read) {
  ISTAR_ASSIGN_OR_RETURN(const MapFields map, reader.Map(field, kinds));
  if (!sampling) return reader.Error(field, "distributions need a `sample:` section");
  if (map.entries().size() != 1) {
    return reader.Error(field, absl::StrCat("expected one key (", JoinNames(kinds), "), got ",
                                            map.entries().size()));
  }
  const std::string& kind = map.entries().front().key;
  const Field& value = map.entries().front().value;
  if (kind == "choice") {
    ISTAR_ASSIGN_OR_RETURN(std::vector<T> values, ReadValues(reader, value, what, read));
    return Axis<T>::Of(std::move(values));
  }
  ISTAR_ASSIGN_OR_RETURN(auto range, ReadRange(reader, value, read));
  Axis<T> axis{.kind = kind == "uniform" ? AxisKind::kUniform : AxisKind::kLogUniform,
               .low = std::move(range.first),
               .high = std::move(range.second)};
  if constexpr (std::is_floating_point_v<T>) {
    const bool same_sign = (axis.low > 0 && axis.high > 0) || (axis.low < 0 && axis.high < 0);
    if (axis.kind == AxisKind::kLogUniform && !same_sign) {
      return reader.Error(value, absl::StrCat("log_uniform bounds must be non-zero and of one "
                                              "sign, got [",
                                              axis.low, ", ", axis.high, "]"));
    }
  }
  return axis;
}

template <typename T>
absl::StatusOr<Axis<T>> ReadAxis(const Reader& reader, const Field& field,
                                 std::span<const std::string_view> kinds, bool sampling,
                                 std::string_view what, const ValueReader<T>& read) {
  if (field.node.IsMap()) return ReadDistribution(reader, field, kinds, sampling, what, read);
  ISTAR_ASSIGN_OR_RETURN(std::vector<T> values, ReadValues(reader, field, what, read));
  return Axis<T>::Of(std::move(values));
}

}  // namespace

absl::StatusOr<Axis<double>> ReadNumberAxis(const Reader& reader, const Field& field,
                                            const Bounds& bounds, bool sampling) {
  const ValueReader<double> read = [&](const Field& value) { return reader.Double(value, bounds); };
  return ReadAxis(reader, field, kNumberDistributions, sampling, "numbers", read);
}

absl::StatusOr<Axis<int64_t>> ReadIntegerAxis(const Reader& reader, const Field& field,
                                              const Bounds& bounds, bool sampling) {
  const ValueReader<int64_t> read = [&](const Field& value) { return reader.Int(value, bounds); };
  return ReadAxis(reader, field, kIntegerDistributions, sampling, "integers", read);
}

absl::StatusOr<Axis<std::string>> ReadNameAxis(const Reader& reader, const Field& field,
                                               std::span<const std::string> known,
                                               std::string_view noun, std::string_view source,
                                               bool sampling) {
  const ValueReader<std::string> read = [&](const Field& value) -> absl::StatusOr<std::string> {
    ISTAR_ASSIGN_OR_RETURN(std::string name, reader.String(value, /*non_empty=*/true));
    if (std::find(known.begin(), known.end(), name) != known.end()) return name;
    return reader.Error(
        value, absl::StrCat("unknown ", std::string(noun), " '", name, "'; ", std::string(source),
                            " defines ", absl::StrJoin(known, ", ")));
  };
  return ReadAxis(reader, field, kNameDistributions, sampling, "names", read);
}

}  // namespace istar::sweeps::internal

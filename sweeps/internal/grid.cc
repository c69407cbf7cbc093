// The `grid:` section: the shared axes and the regularizer entries with their nested axes.
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "catalog/catalog.h"
#include "sweeps/internal/document.h"

namespace istar::sweeps::internal {
namespace {

constexpr std::string_view kGridKeys[] = {"model",      "task",   "regularizers", "learning_rate",
                                          "batch_size", "epochs", "seed"};
// The `model:` or `task:` axis; without one, every name of `folders` in file order.
absl::StatusOr<Axis<std::string>> ReadNames(const Reader& reader, const MapFields& grid,
                                            std::string_view key,
                                            const std::vector<FolderEntry>& folders,
                                            std::string_view source, bool sampling) {
  std::vector<std::string> names;
  for (const FolderEntry& entry : folders) names.push_back(entry.name);
  const Field* field = grid.Find(key);
  if (field == nullptr) return Axis<std::string>::Of(std::move(names));
  return ReadNameAxis(reader, *field, names, key, source, sampling);
}

// The settings map of an entry; a bare name reads as an empty map, so that the message is
// "missing required key 'lambda'".
absl::StatusOr<MapFields> ReadSettings(const Reader& reader, const Field& settings,
                                       std::span<const std::string_view> keys) {
  if (settings.node.IsNull()) return MapFields(settings, {});
  return reader.Map(settings, keys);
}

Bounds BoundsOf(const catalog::Range& range) {
  return Bounds{.min = range.min, .min_open = range.min_open, .max = range.max};
}

// One entry with its name already read: `baseline`, or `name: {parameter: axis, ...}` with the
// parameters of the regularizer's catalogue row; `settings` is the entry's value (null for a bare
// name). A parameter with a default may be left out.
absl::StatusOr<RegularizerAxes> ReadRegularizerSettings(const Reader& reader,
                                                        const catalog::RegularizerSpec& spec,
                                                        const Field& settings, bool sampling) {
  RegularizerAxes axes{.regularizer = std::string(spec.name),
                       .lambda = Axis<double>::Of({0.0}),
                       .zeta = Axis<double>::Of({0.0})};
  if (spec.parameters.empty()) {
    const bool empty =
        settings.node.IsNull() || (settings.node.IsMap() && settings.node.size() == 0);
    if (!empty) {
      return reader.Error(settings, absl::StrCat(std::string(spec.name),
                                                 " has no settings (it has no parameters, not "
                                                 "even lambda)"));
    }
    return axes;
  }
  std::vector<std::string_view> keys;
  for (const catalog::ParameterSpec& parameter : spec.parameters) keys.push_back(parameter.name);
  keys.push_back(kRegularizerLayersKey);
  ISTAR_ASSIGN_OR_RETURN(const MapFields map, ReadSettings(reader, settings, keys));
  if (const Field* layers = map.Find(kRegularizerLayersKey)) {
    ISTAR_ASSIGN_OR_RETURN(axes.layers, ReadLayers(reader, *layers));
  }
  for (const catalog::ParameterSpec& parameter : spec.parameters) {
    Axis<double> axis = Axis<double>::Of({parameter.default_value.value_or(0.0)});
    const Field* field = map.Find(parameter.name);
    if (field == nullptr && !parameter.default_value.has_value()) {
      return reader.Require(map, parameter.name).status();
    }
    if (field != nullptr) {
      ISTAR_ASSIGN_OR_RETURN(axis,
                             ReadNumberAxis(reader, *field, BoundsOf(parameter.range), sampling));
    }
    if (parameter.name == "lambda") {
      axes.lambda = std::move(axis);
    } else if (parameter.name == "zeta") {
      axes.zeta = std::move(axis);
    } else {
      axes.parameters.emplace_back(std::string(parameter.name), std::move(axis));
    }
  }
  return axes;
}

// An element of grid.regularizers: a bare name or a map with exactly one key, the name.
absl::StatusOr<RegularizerAxes> ReadRegularizer(const Reader& reader, const Field& element,
                                                bool sampling) {
  std::string name;
  Field settings{.node = YAML::Node(), .path = "", .mark = element.mark};
  Field name_field = element;
  if (element.node.IsScalar()) {
    name = element.node.Scalar();
  } else if (element.node.IsMap() && element.node.size() == 1) {
    ISTAR_ASSIGN_OR_RETURN(const MapFields map, reader.Map(element));
    name = map.entries().front().key;
    settings = map.entries().front().value;
    name_field.mark = map.entries().front().key_mark;
  } else {
    const std::string got = element.node.IsMap()
                                ? absl::StrCat("a map with ", element.node.size(), " keys")
                                : DescribeNode(element.node);
    return reader.Error(element, absl::StrCat("expected a regularizer name or a map with one key "
                                              "(",
                                              catalog::RegularizerNames(), "), got ", got));
  }
  settings.path = ChildPath(element.path, name);
  const catalog::RegularizerSpec* spec = catalog::FindRegularizer(name);
  if (spec == nullptr) {
    return reader.Error(name_field,
                        absl::StrCat("unknown regularizer '", name, "'; expected one of ",
                                     catalog::RegularizerNames()));
  }
  return ReadRegularizerSettings(reader, *spec, settings, sampling);
}

absl::StatusOr<std::vector<RegularizerAxes>> ReadRegularizers(const Reader& reader,
                                                              const Field& field, bool sampling) {
  ISTAR_ASSIGN_OR_RETURN(const std::vector<Field> elements, reader.List(field, "regularizers"));
  std::vector<RegularizerAxes> regularizers;
  for (const Field& element : elements) {
    ISTAR_ASSIGN_OR_RETURN(RegularizerAxes axes, ReadRegularizer(reader, element, sampling));
    regularizers.push_back(std::move(axes));
  }
  return regularizers;
}

// An optional numeric axis of the grid, `fallback` when the file leaves it out.
template <typename T>
absl::StatusOr<Axis<T>> ReadShared(const Reader& reader, const MapFields& grid,
                                   std::string_view key, const Bounds& bounds, bool sampling,
                                   T fallback) {
  const Field* field = grid.Find(key);
  if (field == nullptr) return Axis<T>::Of({fallback});
  if constexpr (std::is_same_v<T, double>) {
    return ReadNumberAxis(reader, *field, bounds, sampling);
  } else {
    return ReadIntegerAxis(reader, *field, bounds, sampling);
  }
}

// Without `sample:`, the product of the axes must not exceed kMaxTrials.
absl::Status CheckGridSize(const Reader& reader, const Field& grid, const SweepDocument& doc) {
  const double trials = GridSize(doc);
  if (trials <= static_cast<double>(kMaxTrials)) return absl::OkStatus();
  return reader.Error(grid, absl::StrFormat("the grid has %.0f trials, more than the %d a sweep "
                                            "may have; split it or use `sample:`",
                                            trials, kMaxTrials));
}

}  // namespace

double GridSize(const SweepDocument& doc) {
  double settings = 0.0;
  for (const RegularizerAxes& entry : doc.regularizers) {
    double points = static_cast<double>(entry.lambda.values.size() * entry.zeta.values.size());
    for (const auto& [name, axis] : entry.parameters) {
      points *= static_cast<double>(axis.values.size());
    }
    settings += points;
  }
  return settings * static_cast<double>(doc.model.values.size()) *
         static_cast<double>(doc.task.values.size()) *
         static_cast<double>(doc.learning_rate.values.size()) *
         static_cast<double>(doc.batch_size.values.size()) *
         static_cast<double>(doc.epochs.values.size()) *
         static_cast<double>(doc.seed.values.size());
}

absl::Status ReadGrid(const Reader& reader, const Field& field, SweepDocument& doc) {
  ISTAR_ASSIGN_OR_RETURN(const MapFields grid, reader.Map(field, kGridKeys));
  const bool sampling = doc.sample.has_value();
  const TrialSpec defaults;
  ISTAR_ASSIGN_OR_RETURN(doc.model,
                         ReadNames(reader, grid, "model", doc.models, "models", sampling));
  ISTAR_ASSIGN_OR_RETURN(doc.task, ReadNames(reader, grid, "task", doc.tasks, "tasks", sampling));
  ISTAR_ASSIGN_OR_RETURN(const Field regularizers, reader.Require(grid, "regularizers"));
  ISTAR_ASSIGN_OR_RETURN(doc.regularizers, ReadRegularizers(reader, regularizers, sampling));
  ISTAR_ASSIGN_OR_RETURN(doc.learning_rate, ReadShared(reader, grid, "learning_rate", kPositive,
                                                       sampling, defaults.learning_rate));
  ISTAR_ASSIGN_OR_RETURN(doc.batch_size, ReadShared(reader, grid, "batch_size", kAtLeastOne,
                                                    sampling, defaults.batch_size));
  ISTAR_ASSIGN_OR_RETURN(
      doc.epochs, ReadShared(reader, grid, "epochs", kAtLeastOne, sampling, defaults.epochs));
  ISTAR_ASSIGN_OR_RETURN(doc.seed,
                         ReadShared(reader, grid, "seed", kAnyNumber, sampling, defaults.seed));
  return sampling ? absl::OkStatus() : CheckGridSize(reader, field, doc);
}

}  // namespace istar::sweeps::internal

// File: sweeps/internal/document.h
// -----------------------------------------------------------------------------
// A sweep file read and validated, before its trials are expanded: the names, paths and settings,
// and each axis of the grid (or of the sampled space). Reading stops at the first invalid value.
#ifndef ISTAR_SWEEPS_INTERNAL_DOCUMENT_H_
#define ISTAR_SWEEPS_INTERNAL_DOCUMENT_H_

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sweeps/internal/axes.h"
#include "sweeps/internal/yaml_fields.h"
#include "sweeps/sweep.h"

namespace istar::sweeps::internal {

// The most trials one sweep may expand to (a grid's product, or a sample's count), so that a typo
// such as `seed: {uniform: ...}` on a grid of 10^9 points fails fast instead of exhausting memory.
inline constexpr int64_t kMaxTrials = 1'000'000;

// One entry of grid.regularizers. lambda and zeta are {0} for a regularizer without them (the
// baseline has neither, cosreg no zeta), so that expansion and sampling treat every entry alike
// and draw in the order they always have (Note [Sampling], expand.cc); the regularizer's other
// parameters follow, in its catalogue row's order.
struct RegularizerAxes {
  std::string regularizer;  // a catalogue name
  Axis<double> lambda;
  Axis<double> zeta;
  std::vector<std::pair<std::string, Axis<double>>> parameters;
  // The entry's `regularizer_layers` (one value, not an axis): its trials' layers whatever the
  // sweep, model and task say. Empty: theirs.
  std::vector<int64_t> layers;
};

// The key of a regularizer entry that is a setting, not one of its parameters.
inline constexpr std::string_view kRegularizerLayersKey = "regularizer_layers";

struct SampleSettings {
  int64_t count = 0;  // draws, in [1, kMaxTrials]
  uint64_t seed = 0;  // the file's integer, as two's complement
};

// One entry of `models:` or `tasks:`.
struct FolderEntry {
  std::string name;
  std::string folder;
  std::vector<MapEntry> settings;  // the entry's own training settings (checked), in file order
};

struct SweepDocument {
  std::string name;
  std::vector<FolderEntry> models;  // in file order
  std::vector<FolderEntry> tasks;   // in file order
  TrainingSettings training;        // the `training:` section
  // The settings of each (model, task) pair's trials: `training` with the model's and then the
  // task's own settings applied (Note [Settings per model and per task], document.cc).
  std::map<std::pair<std::string, std::string>, TrainingSettings> pair_training;
  Axis<std::string> model;  // defaults to every model, in file order
  Axis<std::string> task;   // defaults to every task, in file order
  std::vector<RegularizerAxes> regularizers;
  Axis<double> learning_rate;
  Axis<int64_t> batch_size;
  Axis<int64_t> epochs;
  Axis<int64_t> seed;
  std::optional<SampleSettings> sample;  // absent: the full grid
  LaunchSettings launch;
};

// Reads and validates the whole document `root`. InvalidArgument at the first invalid value.
[[nodiscard]] absl::StatusOr<SweepDocument> ReadDocument(const Reader& reader,
                                                         const YAML::Node& root);

// `regularizer_layers`: distinct layer numbers >= 1 and `last`, sorted, kLastLayer after the
// numbers. Defined in document.cc.
[[nodiscard]] absl::StatusOr<std::vector<int64_t>> ReadLayers(const Reader& reader,
                                                              const Field& field);

// Reads the `launch:` map (after `training:`, whose ranks_per_trial bounds nodes_per_group).
// Defined in launch.cc.
[[nodiscard]] absl::StatusOr<LaunchSettings> ReadLaunch(const Reader& reader, const Field& launch,
                                                        const TrainingSettings& training);

// Reads the `grid:` map into `doc`, whose models, tasks and sample are already read (the grid
// refers to them). Defined in grid.cc.
[[nodiscard]] absl::Status ReadGrid(const Reader& reader, const Field& grid, SweepDocument& doc);

// The number of grid points of `doc` (ignoring `sample:`), duplicates included. A double, so that
// the product of a huge grid does not overflow before ReadGrid rejects it; exact below 2^53.
double GridSize(const SweepDocument& doc);

}  // namespace istar::sweeps::internal

#endif  // ISTAR_SWEEPS_INTERNAL_DOCUMENT_H_

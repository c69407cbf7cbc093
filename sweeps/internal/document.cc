#include "sweeps/internal/document.h"

#include <algorithm>
#include <iterator>
#include <optional>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/status_macros.h"
#include "catalog/catalog.h"
#include "sweeps/internal/canonical.h"

namespace istar::sweeps::internal {
namespace {

constexpr std::string_view kTopKeys[] = {"name", "models", "tasks", "training",
                                         "grid", "sample", "launch"};
constexpr std::string_view kTrainingKeys[] = {"max_seq_length",      "warmup_ratio",
                                              "weight_decay",        "precision",
                                              "eval_every_steps",    "isotropy_every_steps",
                                              "regularizer_layers",  "shrinkage_points",
                                              "ranks_per_trial",     "gradient_accumulation_steps",
                                              "lr_schedule",         "max_grad_norm",
                                              "doc_stride",          "selection",
                                              "point_cloud_padding", "isotropy_scope",
                                              "segment_ids",         "shrinkage_sample",
                                              "evaluation_zeta"};
// Training keys a model's or a task's entry may not override: they hold for the whole sweep
// (one group size for the launcher; one zeta for every trajectory so that they compare).
constexpr std::string_view kSweepWideKeys[] = {"ranks_per_trial", "evaluation_zeta"};
constexpr std::string_view kSelectionKeys[] = {"fraction", "seed"};
constexpr std::string_view kPrecisions[] = {"fp32", "bf16", "fp16"};
constexpr std::string_view kLrSchedules[] = {LrScheduleName(LrSchedule::kLinear),
                                             LrScheduleName(LrSchedule::kConstant)};
constexpr std::string_view kSampleKeys[] = {"count", "seed"};

// One of the names of an option's table (sweeps/sweep.h, e.g. kIsotropyScopeNames).
template <typename Enum, size_t N>
absl::StatusOr<Enum> ReadOption(const Reader& reader, const Field& field,
                                const std::string_view (&names)[N]) {
  ISTAR_ASSIGN_OR_RETURN(const std::string name, reader.String(field, /*non_empty=*/false));
  if (const std::optional<Enum> value = ParseOption<Enum>(name, names)) return *value;
  return reader.Error(field, absl::StrCat("expected one of ", JoinNames(names), ", got ",
                                          DescribeNode(field.node)));
}

// `segment_ids`: true or false (YAML's spellings of a boolean).
absl::StatusOr<bool> ReadBool(const Reader& reader, const Field& field) {
  if (field.node.IsScalar()) {
    const std::string& text = field.node.Scalar();
    if (text == "true" || text == "True" || text == "TRUE") return true;
    if (text == "false" || text == "False" || text == "FALSE") return false;
  }
  return reader.Error(field,
                      absl::StrCat("expected true or false, got ", DescribeNode(field.node)));
}

// `selection: {fraction, seed}`: both required, fraction in (0, 1).
absl::StatusOr<std::optional<SelectionSplit>> ReadSelection(const Reader& reader,
                                                            const Field& field) {
  ISTAR_ASSIGN_OR_RETURN(const MapFields map, reader.Map(field, kSelectionKeys));
  SelectionSplit selection;
  ISTAR_ASSIGN_OR_RETURN(const Field fraction, reader.Require(map, "fraction"));
  ISTAR_ASSIGN_OR_RETURN(selection.fraction, reader.Double(fraction, kAnyNumber));
  if (!(selection.fraction > 0.0 && selection.fraction < 1.0)) {
    return reader.Error(fraction,
                        absl::StrCat("expected a number in (0, 1), got ", fraction.node.Scalar()));
  }
  ISTAR_ASSIGN_OR_RETURN(const Field seed, reader.Require(map, "seed"));
  ISTAR_ASSIGN_OR_RETURN(selection.seed, reader.Int(seed, kNonNegative));
  return std::optional<SelectionSplit>(selection);
}

absl::StatusOr<std::string> ReadPrecision(const Reader& reader, const Field& field) {
  ISTAR_ASSIGN_OR_RETURN(std::string precision, reader.String(field, /*non_empty=*/false));
  if (std::find(std::begin(kPrecisions), std::end(kPrecisions), precision) !=
      std::end(kPrecisions)) {
    return precision;
  }
  return reader.Error(field, absl::StrCat("expected one of ", JoinNames(kPrecisions), ", got ",
                                          DescribeNode(field.node)));
}

absl::StatusOr<LrSchedule> ReadLrSchedule(const Reader& reader, const Field& field) {
  ISTAR_ASSIGN_OR_RETURN(const std::string name, reader.String(field, /*non_empty=*/false));
  if (const std::optional<LrSchedule> schedule = ParseLrSchedule(name)) return *schedule;
  return reader.Error(field, absl::StrCat("expected one of ", JoinNames(kLrSchedules), ", got ",
                                          DescribeNode(field.node)));
}

// `max_grad_norm`: a number > 0, or `off` (no clipping; quoted or not, since YAML 1.1 would read
// a plain off as a boolean and some emitters quote it).
absl::StatusOr<std::optional<double>> ReadMaxGradNorm(const Reader& reader, const Field& field) {
  if (field.node.IsScalar() && field.node.Scalar() == kMaxGradNormOff) {
    return std::optional<double>();
  }
  const absl::StatusOr<double> number = reader.Double(field, kAnyNumber);
  if (number.ok() && kPositive.Contains(*number)) return std::optional<double>(*number);
  // A number out of range is shown as written, as Reader::Double does.
  const std::string got = number.ok() ? field.node.Scalar() : DescribeNode(field.node);
  return reader.Error(field, absl::StrCat("expected ", kPositive.Describe(/*integer=*/false),
                                          " or ", kMaxGradNormOff, ", got ", got));
}

absl::Status ReadTrainingField(const Reader& reader, const MapEntry& entry,
                               TrainingSettings& training) {
  const std::string& key = entry.key;
  const Field& value = entry.value;
  TrainingSettings& t = training;
  if (key == "max_seq_length") return Store(reader.Int(value, kAtLeastOne), t.max_seq_length);
  if (key == "warmup_ratio") return Store(reader.Double(value, kUnitInterval), t.warmup_ratio);
  if (key == "weight_decay") return Store(reader.Double(value, kNonNegative), t.weight_decay);
  if (key == "precision") return Store(ReadPrecision(reader, value), t.precision);
  if (key == "eval_every_steps") return Store(reader.Int(value, kNonNegative), t.eval_every_steps);
  if (key == "isotropy_every_steps") {
    return Store(reader.Int(value, kAtLeastOne), t.isotropy_every_steps);
  }
  if (key == "regularizer_layers") return Store(ReadLayers(reader, value), t.regularizer_layers);
  if (key == "shrinkage_points") return Store(reader.Int(value, kAtLeastTwo), t.shrinkage_points);
  if (key == "gradient_accumulation_steps") {
    return Store(reader.Int(value, kAtLeastOne), t.gradient_accumulation_steps);
  }
  if (key == "lr_schedule") return Store(ReadLrSchedule(reader, value), t.lr_schedule);
  if (key == "max_grad_norm") return Store(ReadMaxGradNorm(reader, value), t.max_grad_norm);
  if (key == "doc_stride") {
    ISTAR_ASSIGN_OR_RETURN(const int64_t stride, reader.Int(value, kAtLeastOne));
    t.doc_stride = stride;
    return absl::OkStatus();
  }
  if (key == "selection") return Store(ReadSelection(reader, value), t.selection);
  if (key == "point_cloud_padding") {
    return Store(ReadOption<PointCloudPadding>(reader, value, kPointCloudPaddingNames),
                 t.point_cloud_padding);
  }
  if (key == "isotropy_scope") {
    return Store(ReadOption<IsotropyScope>(reader, value, kIsotropyScopeNames), t.isotropy_scope);
  }
  if (key == "segment_ids") return Store(ReadBool(reader, value), t.segment_ids);
  if (key == "shrinkage_sample") {
    return Store(ReadOption<ShrinkageSample>(reader, value, kShrinkageSampleNames),
                 t.shrinkage_sample);
  }
  if (key == "evaluation_zeta") {
    return Store(reader.Double(value, kUnitInterval), t.evaluation_zeta);
  }
  ISTAR_CHECK(key == "ranks_per_trial") << "training key '" << key << "' passed Map() unread";
  return Store(reader.Int(value, kAtLeastOne), t.ranks_per_trial);
}

absl::StatusOr<TrainingSettings> ReadTraining(const Reader& reader, const Field& field) {
  ISTAR_ASSIGN_OR_RETURN(const MapFields map, reader.Map(field, kTrainingKeys));
  TrainingSettings training;
  for (const MapEntry& entry : map.entries()) {
    ISTAR_RETURN_IF_ERROR(ReadTrainingField(reader, entry, training));
  }
  return training;
}

// The keys a model's or task's entry may hold: its folder, and the training keys that are not
// sweep-wide.
std::vector<std::string_view> EntryKeys(bool tasks) {
  std::vector<std::string_view> keys = {"path"};
  for (const std::string_view key : kTrainingKeys) {
    if (std::find(std::begin(kSweepWideKeys), std::end(kSweepWideKeys), key) ==
        std::end(kSweepWideKeys)) {
      keys.push_back(key);
    }
  }
  // doc_stride means something for SQuAD's windows only, which a task's entry says.
  if (!tasks) std::erase(keys, std::string_view("doc_stride"));
  return keys;
}

// `models:` or `tasks:`: a non-empty map from names to folders, each given as a string or as a
// map with `path` and training settings of its own (docs/sweep-format.md, "Settings per model and
// per task"). Task names must be known tasks.
absl::StatusOr<std::vector<FolderEntry>> ReadFolders(const Reader& reader, const Field& field,
                                                     bool tasks) {
  ISTAR_ASSIGN_OR_RETURN(const MapFields map, reader.Map(field));
  if (map.entries().empty()) {
    return reader.Error(field, tasks ? "expected at least one `task: data folder` entry"
                                     : "expected at least one `model: checkpoint folder` entry");
  }
  const std::vector<std::string_view> entry_keys = EntryKeys(tasks);
  std::vector<FolderEntry> folders;
  for (const MapEntry& entry : map.entries()) {
    if (entry.key.empty()) return reader.Error(entry.AtKey(), "expected a non-empty name");
    if (tasks && catalog::FindTask(entry.key) == nullptr) {
      return reader.Error(entry.AtKey(), absl::StrCat("unknown task '", entry.key,
                                                      "'; expected one of ", catalog::TaskNames()));
    }
    FolderEntry folder{.name = entry.key};
    if (entry.value.node.IsMap()) {
      ISTAR_ASSIGN_OR_RETURN(const MapFields settings, reader.Map(entry.value, entry_keys));
      ISTAR_ASSIGN_OR_RETURN(const Field path, reader.Require(settings, "path"));
      ISTAR_ASSIGN_OR_RETURN(folder.folder, reader.String(path, /*non_empty=*/true));
      for (const MapEntry& setting : settings.entries()) {
        if (setting.key == "path") continue;
        // Checked now, applied to each trial's settings when the trials are expanded.
        TrainingSettings scratch;
        ISTAR_RETURN_IF_ERROR(ReadTrainingField(reader, setting, scratch));
        folder.settings.push_back(setting);
      }
    } else {
      ISTAR_ASSIGN_OR_RETURN(folder.folder, reader.String(entry.value, /*non_empty=*/true));
    }
    folders.push_back(std::move(folder));
  }
  return folders;
}

absl::StatusOr<SampleSettings> ReadSample(const Reader& reader, const Field& field) {
  ISTAR_ASSIGN_OR_RETURN(const MapFields map, reader.Map(field, kSampleKeys));
  SampleSettings sample;
  ISTAR_ASSIGN_OR_RETURN(const Field count, reader.Require(map, "count"));
  const Bounds count_bounds{.min = 1.0, .max = static_cast<double>(kMaxTrials)};
  ISTAR_ASSIGN_OR_RETURN(sample.count, reader.Int(count, count_bounds));
  if (const Field* seed = map.Find("seed")) {
    ISTAR_ASSIGN_OR_RETURN(const int64_t value, reader.Int(*seed, kAnyNumber));
    sample.seed = static_cast<uint64_t>(value);
  }
  return sample;
}

}  // namespace

// Their order means nothing, so they are stored sorted.
absl::StatusOr<std::vector<int64_t>> ReadLayers(const Reader& reader, const Field& field) {
  std::vector<Field> elements = {field};
  if (!field.node.IsScalar()) {
    ISTAR_ASSIGN_OR_RETURN(elements, reader.List(field, "layer numbers"));
  }
  std::vector<int64_t> layers;
  bool last = false;
  for (const Field& element : elements) {
    if (element.node.IsScalar() && element.node.Scalar() == kLastLayerName) {
      if (last) return reader.Error(element, "layer `last` is listed twice");
      last = true;
      continue;
    }
    const absl::StatusOr<int64_t> layer = reader.Int(element, kAtLeastOne);
    if (!layer.ok()) {
      return reader.Error(element, absl::StrCat("expected a layer number >= 1 or `", kLastLayerName,
                                                "`, got ", DescribeNode(element.node)));
    }
    if (std::find(layers.begin(), layers.end(), *layer) != layers.end()) {
      return reader.Error(element, absl::StrCat("layer ", *layer, " is listed twice"));
    }
    layers.push_back(*layer);
  }
  std::sort(layers.begin(), layers.end());
  if (last) layers.push_back(kLastLayer);
  return layers;
}

absl::StatusOr<SweepDocument> ReadDocument(const Reader& reader, const YAML::Node& root) {
  if (!root.IsMap()) {
    return reader.Error(reader.Root(root),
                        absl::StrCat("expected a map with the keys ", JoinNames(kTopKeys), ", got ",
                                     DescribeNode(root)));
  }
  ISTAR_ASSIGN_OR_RETURN(const MapFields top, reader.Map(reader.Root(root), kTopKeys));
  SweepDocument doc;
  ISTAR_ASSIGN_OR_RETURN(const Field name, reader.Require(top, "name"));
  ISTAR_ASSIGN_OR_RETURN(doc.name, reader.String(name, /*non_empty=*/true));
  ISTAR_ASSIGN_OR_RETURN(const Field models, reader.Require(top, "models"));
  ISTAR_ASSIGN_OR_RETURN(doc.models, ReadFolders(reader, models, /*tasks=*/false));
  ISTAR_ASSIGN_OR_RETURN(const Field tasks, reader.Require(top, "tasks"));
  ISTAR_ASSIGN_OR_RETURN(doc.tasks, ReadFolders(reader, tasks, /*tasks=*/true));
  if (const Field* training = top.Find("training")) {
    ISTAR_ASSIGN_OR_RETURN(doc.training, ReadTraining(reader, *training));
  }
  // Note [Settings per model and per task]
  // A trial's training settings are the sweep's `training:`, then its model entry's settings,
  // then its task entry's (the task's win where both set a key: a task's sequence length is a
  // property of its data). They are resolved here for every (model, task) pair, before any trial
  // exists, so expansion only looks them up.
  for (const FolderEntry& model : doc.models) {
    for (const FolderEntry& task : doc.tasks) {
      TrainingSettings training = doc.training;
      for (const MapEntry& setting : model.settings) {
        ISTAR_RETURN_IF_ERROR(ReadTrainingField(reader, setting, training));
      }
      for (const MapEntry& setting : task.settings) {
        ISTAR_RETURN_IF_ERROR(ReadTrainingField(reader, setting, training));
      }
      doc.pair_training[{model.name, task.name}] = std::move(training);
    }
  }
  if (const Field* launch = top.Find("launch")) {
    ISTAR_ASSIGN_OR_RETURN(doc.launch, ReadLaunch(reader, *launch, doc.training));
  }
  // The sample section is read before the grid, whose distributions it permits.
  if (const Field* sample = top.Find("sample")) {
    ISTAR_ASSIGN_OR_RETURN(doc.sample, ReadSample(reader, *sample));
  }
  ISTAR_ASSIGN_OR_RETURN(const Field grid, reader.Require(top, "grid"));
  ISTAR_RETURN_IF_ERROR(ReadGrid(reader, grid, doc));
  return doc;
}

}  // namespace istar::sweeps::internal

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
constexpr std::string_view kTrainingKeys[] = {"max_seq_length",     "warmup_ratio",
                                              "weight_decay",       "precision",
                                              "eval_every_steps",   "isotropy_every_steps",
                                              "regularizer_layers", "shrinkage_points",
                                              "ranks_per_trial",    "gradient_accumulation_steps",
                                              "lr_schedule",        "max_grad_norm"};
constexpr std::string_view kPrecisions[] = {"fp32", "bf16", "fp16"};
constexpr std::string_view kLrSchedules[] = {LrScheduleName(LrSchedule::kLinear),
                                             LrScheduleName(LrSchedule::kConstant)};
constexpr std::string_view kSampleKeys[] = {"count", "seed"};

// `models:` or `tasks:`: a non-empty map from names to folders. Task names must be known tasks.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ReadFolders(const Reader& reader,
                                                                             const Field& field,
                                                                             bool tasks) {
  ISTAR_ASSIGN_OR_RETURN(const MapFields map, reader.Map(field));
  if (map.entries().empty()) {
    return reader.Error(field, tasks ? "expected at least one `task: data folder` entry"
                                     : "expected at least one `model: checkpoint folder` entry");
  }
  std::vector<std::pair<std::string, std::string>> folders;
  for (const MapEntry& entry : map.entries()) {
    if (entry.key.empty()) return reader.Error(entry.AtKey(), "expected a non-empty name");
    if (tasks && catalog::FindTask(entry.key) == nullptr) {
      return reader.Error(entry.AtKey(), absl::StrCat("unknown task '", entry.key,
                                                      "'; expected one of ", catalog::TaskNames()));
    }
    ISTAR_ASSIGN_OR_RETURN(std::string folder, reader.String(entry.value, /*non_empty=*/true));
    folders.emplace_back(entry.key, std::move(folder));
  }
  return folders;
}

// `regularizer_layers`: distinct layer numbers >= 1, stored sorted (their order means nothing).
absl::StatusOr<std::vector<int64_t>> ReadLayers(const Reader& reader, const Field& field) {
  std::vector<Field> elements = {field};
  if (!field.node.IsScalar()) {
    ISTAR_ASSIGN_OR_RETURN(elements, reader.List(field, "layer numbers"));
  }
  std::vector<int64_t> layers;
  for (const Field& element : elements) {
    ISTAR_ASSIGN_OR_RETURN(const int64_t layer, reader.Int(element, kAtLeastOne));
    if (std::find(layers.begin(), layers.end(), layer) != layers.end()) {
      return reader.Error(element, absl::StrCat("layer ", layer, " is listed twice"));
    }
    layers.push_back(layer);
  }
  std::sort(layers.begin(), layers.end());
  return layers;
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

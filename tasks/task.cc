// Task and split names, and the folder layout of each task (ReadTaskData). What a task is (kind,
// labels, metrics, evaluation splits) comes from its catalogue row (catalog/tasks.cc).
#include "tasks/task.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/status_macros.h"

namespace istar::tasks {
namespace {

struct NamedTask {
  Task task;
  std::string_view name;  // the catalogue row's name
};

constexpr NamedTask kTaskNames[] = {
    {Task::kSst2, "sst2"}, {Task::kSst5, "sst5"}, {Task::kQnli, "qnli"}, {Task::kSquad, "squad"},
    {Task::kCola, "cola"}, {Task::kMrpc, "mrpc"}, {Task::kQqp, "qqp"},   {Task::kRte, "rte"},
    {Task::kStsb, "stsb"}, {Task::kMnli, "mnli"},
};

constexpr std::pair<Split, std::string_view> kSplitNames[] = {
    {Split::kTrain, "train"},
    {Split::kDev, "dev"},
    {Split::kDevMismatched, "dev_mismatched"},
};

// The file of `split` in `folder`: the first candidate that exists, else the first (so the
// NotFound error names the canonical file).
std::string SplitFile(const std::string& folder, const std::vector<std::string>& candidates) {
  for (const std::string& name : candidates) {
    const std::string path = (std::filesystem::path(folder) / name).string();
    std::error_code error;
    if (std::filesystem::exists(path, error)) return path;
  }
  return (std::filesystem::path(folder) / candidates.front()).string();
}

absl::StatusOr<TaskData> ReadSplit(Task task, const std::string& folder, Split split) {
  const bool train = split == Split::kTrain;
  if (split == Split::kDevMismatched && task != Task::kMnli) {
    return absl::InvalidArgumentError(absl::StrCat("task ", std::string(TaskName(task)),
                                                   " has no split 'dev_mismatched' (MNLI only)"));
  }
  const std::string glue = train ? "train.tsv" : "dev.tsv";
  switch (task) {
    case Task::kSst2:
      return ReadSst2Tsv(SplitFile(folder, {glue}));
    case Task::kQnli:
      return ReadQnliTsv(SplitFile(folder, {glue}));
    case Task::kSst5:
      return ReadSst5(SplitFile(folder, {train ? "ids-sst-train.csv" : "ids-sst-dev.csv", glue}));
    case Task::kSquad:
      return ReadSquadJson(SplitFile(folder, {train ? "train-v1.1.json" : "dev-v1.1.json"}));
    case Task::kCola:
      return ReadColaTsv(SplitFile(folder, {glue}));
    case Task::kMrpc:
      return ReadMrpcTsv(SplitFile(folder, {glue}));
    case Task::kQqp:
      return ReadQqpTsv(SplitFile(folder, {glue}));
    case Task::kRte:
      return ReadRteTsv(SplitFile(folder, {glue}));
    case Task::kStsb:
      return ReadStsbTsv(SplitFile(folder, {glue}));
    case Task::kMnli:
      return ReadMnliTsv(SplitFile(
          folder, {train ? "train.tsv"
                         : (split == Split::kDev ? "dev_matched.tsv" : "dev_mismatched.tsv")}));
  }
  return absl::InvalidArgumentError("unknown task");
}

}  // namespace

std::optional<Task> ParseTask(std::string_view name) {
  for (const auto& [task, task_name] : kTaskNames) {
    if (task_name == name) return task;
  }
  return std::nullopt;
}

std::string_view TaskName(Task task) {
  for (const auto& [known, name] : kTaskNames) {
    if (known == task) return name;
  }
  ISTAR_CHECK(false) << "Task " << static_cast<int>(task) << " has no name";
  return "";
}

const catalog::TaskSpec& TaskSpecOf(Task task) {
  const catalog::TaskSpec* spec = catalog::FindTask(TaskName(task));
  ISTAR_CHECK(spec != nullptr) << "task " << TaskName(task) << " has no row in catalog/tasks.cc";
  return *spec;
}

int64_t NumLabels(Task task) { return TaskSpecOf(task).num_labels(); }

std::string_view PrimaryMetric(Task task) { return TaskSpecOf(task).primary_metric; }

std::string_view SplitName(Split split) {
  for (const auto& [known, name] : kSplitNames) {
    if (known == split) return name;
  }
  ISTAR_CHECK(false) << "Split " << static_cast<int>(split) << " has no name";
  return "";
}

std::optional<Split> ParseSplit(std::string_view name) {
  for (const auto& [split, split_name] : kSplitNames) {
    if (split_name == name) return split;
  }
  return std::nullopt;
}

absl::StatusOr<TaskData> ReadTaskData(Task task, const std::string& folder, Split split) {
  ISTAR_ASSIGN_OR_RETURN(TaskData data, ReadSplit(task, folder, split));
  data.split = split;
  return data;
}

absl::StatusOr<TaskData> ReadEvalSplit(Task task, const std::string& folder,
                                       std::string_view split_name) {
  const std::span<const std::string_view> names = TaskSpecOf(task).eval_splits;
  const std::optional<Split> split = ParseSplit(split_name);
  if (!split || std::find(names.begin(), names.end(), split_name) == names.end()) {
    std::string expected;
    for (std::string_view name : names)
      absl::StrAppend(&expected, expected.empty() ? "" : ", ", std::string(name));
    return absl::InvalidArgumentError(
        absl::StrCat("task ", std::string(TaskName(task)), " has no evaluation split '",
                     std::string(split_name), "'; expected one of ", expected));
  }
  return ReadTaskData(task, folder, *split);
}

}  // namespace istar::tasks

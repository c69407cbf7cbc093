// Task names and the folder layout of each task (ReadTaskData).
#include "tasks/task.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace istar::tasks {
namespace {

struct TaskInfo {
  Task task;
  std::string_view name;
  int64_t num_labels;
  std::string_view primary_metric;
};

constexpr TaskInfo kTasks[] = {
    {Task::kSst2, "sst2", 2, "accuracy"},
    {Task::kSst5, "sst5", 5, "accuracy"},
    {Task::kQnli, "qnli", 2, "accuracy"},
    {Task::kSquad, "squad", 0, "f1"},
};

const TaskInfo& Info(Task task) {
  for (const TaskInfo& info : kTasks) {
    if (info.task == task) return info;
  }
  return kTasks[0];  // unreachable for a valid enum value
}

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

absl::StatusOr<TaskData> ReadSplit(Task task, const std::string& folder, bool train) {
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
  }
  return absl::InvalidArgumentError("unknown task");
}

}  // namespace

std::optional<Task> ParseTask(std::string_view name) {
  for (const TaskInfo& info : kTasks) {
    if (info.name == name) return info.task;
  }
  return std::nullopt;
}

std::string_view TaskName(Task task) { return Info(task).name; }

int64_t NumLabels(Task task) { return Info(task).num_labels; }

std::string_view PrimaryMetric(Task task) { return Info(task).primary_metric; }

absl::StatusOr<TaskData> ReadTaskData(Task task, const std::string& folder, Split split) {
  ISTAR_ASSIGN_OR_RETURN(TaskData data, ReadSplit(task, folder, split == Split::kTrain));
  data.split = split;
  return data;
}

}  // namespace istar::tasks

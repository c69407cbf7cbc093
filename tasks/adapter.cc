#include "tasks/adapter.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/status_macros.h"

namespace istar::tasks {

TaskAdapter AdapterOf(catalog::TaskKind kind, int64_t num_labels) {
  switch (kind) {
    case catalog::TaskKind::kSingleSentence:
    case catalog::TaskKind::kSentencePair:
      ISTAR_CHECK(num_labels >= 2)
          << "a classification task needs at least 2 labels, got " << num_labels;
      return {.kind = kind,
              .head = HeadKind::kSequenceClassification,
              .num_outputs = num_labels,
              .loss = LossKind::kCrossEntropy,
              .pairs = kind == catalog::TaskKind::kSentencePair};
    case catalog::TaskKind::kRegression:
      return {.kind = kind,
              .head = HeadKind::kSequenceClassification,
              .num_outputs = 1,
              .loss = LossKind::kMeanSquaredError,
              .pairs = true};
    case catalog::TaskKind::kSpanExtraction:
      return {.kind = kind,
              .head = HeadKind::kQuestionAnswering,
              .num_outputs = 2,
              .loss = LossKind::kSpan,
              .pairs = true};
  }
  ISTAR_CHECK(false) << "unknown task kind " << static_cast<int>(kind);
  return {};
}

TaskAdapter AdapterOf(Task task) {
  const catalog::TaskSpec& spec = TaskSpecOf(task);
  return AdapterOf(spec.kind, spec.num_labels());
}

absl::StatusOr<Scores> ScoreSequenceOutputs(const TaskData& data, std::span<const double> outputs) {
  const TaskAdapter adapter = AdapterOf(data.task);
  const catalog::TaskSpec& spec = TaskSpecOf(data.task);
  if (adapter.head != HeadKind::kSequenceClassification) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ScoreSequenceOutputs needs a classification or regression task, got ",
        std::string(spec.name), " (", std::string(catalog::TaskKindName(spec.kind)), ")"));
  }
  const auto examples = static_cast<int64_t>(data.classification.size());
  const int64_t width = adapter.num_outputs;
  if (static_cast<int64_t>(outputs.size()) != examples * width) {
    return absl::InvalidArgumentError(absl::StrCat(outputs.size(), " outputs for ", examples,
                                                   " examples of ", data.path, " (", width,
                                                   " per example)"));
  }
  if (adapter.loss == LossKind::kMeanSquaredError) return ScoreRegression(data, outputs);
  std::vector<int64_t> predictions(static_cast<size_t>(examples), 0);
  for (int64_t i = 0; i < examples; ++i) {
    const std::span<const double> row = outputs.subspan(static_cast<size_t>(i * width), width);
    int64_t best = 0;
    for (int64_t c = 1; c < width && !std::isnan(row[best]); ++c) {
      if (std::isnan(row[c]) || row[c] > row[best]) best = c;
    }
    predictions[static_cast<size_t>(i)] = best;
  }
  return ScoreClassification(data, predictions);
}

absl::StatusOr<Scores> ScoreSpanOutputs(const TaskData& data, const std::vector<Feature>& features,
                                        std::span<const float> start_logits,
                                        std::span<const float> end_logits) {
  ISTAR_ASSIGN_OR_RETURN(std::vector<SquadPrediction> answers,
                         PostprocessSquad(data, features, start_logits, end_logits));
  return ScoreSquad(data, answers);
}

std::string StoredSplitName(std::string_view eval_split) {
  constexpr std::string_view kDev = "dev";
  if (eval_split == kDev) return "validation";
  if (eval_split.starts_with("dev_")) {
    return absl::StrCat("validation", std::string(eval_split.substr(kDev.size())));
  }
  return std::string(eval_split);
}

}  // namespace istar::tasks

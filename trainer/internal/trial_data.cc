#include "trainer/internal/trial_data.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "catalog/catalog.h"
#include "tasks/adapter.h"
#include "tasks/selection.h"

namespace istar::trainer::internal {
namespace {

// Note [Selection parts as evaluation splits]
// The two parts of training.selection are appended to the evaluation splits as splits of their
// own, so that every evaluation scores them with the task's metrics, and writes them, exactly
// as it does "validation" (metric rows and final_results). Their features are the dev split's
// own (tasks::SubsetOfExamples), not rebuilt, so each example keeps every window it had. The
// price is a second forward pass over the dev set at each evaluation; scoring subsets of one
// pass's outputs would save it, at the cost of a second scoring path through EvaluateSplit.
absl::Status AppendSelectionParts(const sweeps::SelectionSplit& selection,
                                  std::vector<EvalSplit>& splits) {
  const EvalSplit& dev = splits.front();
  absl::StatusOr<tasks::SelectionCut> cut = tasks::CutForSelection(
      tasks::NumExamples(dev.data), selection.fraction, static_cast<uint64_t>(selection.seed));
  if (!cut.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(dev.data.path, ": training.selection: ", cut.status().message()));
  }
  tasks::TaskSubset chosen = tasks::SubsetOfExamples(dev.data, dev.features, cut->selection);
  tasks::TaskSubset reported = tasks::SubsetOfExamples(dev.data, dev.features, cut->report);
  // `dev` refers into `splits`: push only once both parts are taken.
  splits.push_back(EvalSplit{.stored_name = kSelectionSplitName,
                             .data = std::move(chosen.data),
                             .features = std::move(chosen.features)});
  splits.push_back(EvalSplit{.stored_name = kReportSplitName,
                             .data = std::move(reported.data),
                             .features = std::move(reported.features)});
  return absl::OkStatus();
}

}  // namespace

namespace {

// BuildFeatures on `data`; with segment_ids off every token type id is 0 (docs/training.md,
// "Options for the published behaviour"): the published code's tokenizer call passes none.
absl::StatusOr<std::vector<tasks::Feature>> Features(const tasks::TaskData& data,
                                                     const tokenizers::Tokenizer& tokenizer,
                                                     const tasks::EncodeSettings& encode,
                                                     bool segment_ids) {
  ISTAR_ASSIGN_OR_RETURN(std::vector<tasks::Feature> features,
                         tasks::BuildFeatures(data, tokenizer, encode));
  if (!segment_ids) {
    for (tasks::Feature& feature : features) {
      std::fill(feature.token_type_ids.begin(), feature.token_type_ids.end(), 0);
    }
  }
  return features;
}

}  // namespace

absl::StatusOr<TrialData> TrialData::Load(const sweeps::TrialSpec& trial, tasks::Task task,
                                          const tokenizers::Tokenizer& tokenizer) {
  TrialData loaded;
  loaded.pad_id_ = std::max<int32_t>(0, tokenizer.pad_id());
  ISTAR_ASSIGN_OR_RETURN(loaded.train_data_,
                         tasks::ReadTaskData(task, trial.task_path, tasks::Split::kTrain));
  // See docs/training.md, "SQuAD": stride and question length shrink with short sequences,
  // unless training.doc_stride sets the stride.
  const int64_t length = trial.training.max_seq_length;
  const tasks::EncodeSettings encode{
      .max_seq_length = length,
      .doc_stride = trial.training.doc_stride.value_or(std::min<int64_t>(128, length / 3)),
      .max_query_length = std::min<int64_t>(64, length / 4)};
  const bool segment_ids = trial.training.segment_ids;
  ISTAR_ASSIGN_OR_RETURN(loaded.train_features_,
                         Features(loaded.train_data_, tokenizer, encode, segment_ids));
  if (loaded.train_features_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(trial.task_path, ": empty train split"));
  }
  for (const std::string_view name : tasks::TaskSpecOf(task).eval_splits) {
    EvalSplit split{.stored_name = tasks::StoredSplitName(name)};
    ISTAR_ASSIGN_OR_RETURN(split.data, tasks::ReadEvalSplit(task, trial.task_path, name));
    ISTAR_ASSIGN_OR_RETURN(split.features, Features(split.data, tokenizer, encode, segment_ids));
    if (split.features.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(split.data.path, ": empty evaluation split ", std::string(name)));
    }
    loaded.eval_splits_.push_back(std::move(split));
  }
  if (trial.training.selection.has_value()) {
    ISTAR_RETURN_IF_ERROR(AppendSelectionParts(*trial.training.selection, loaded.eval_splits_));
  }
  return loaded;
}

}  // namespace istar::trainer::internal

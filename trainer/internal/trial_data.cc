#include "trainer/internal/trial_data.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "catalog/catalog.h"
#include "tasks/adapter.h"

namespace istar::trainer::internal {

absl::StatusOr<TrialData> TrialData::Load(const sweeps::TrialSpec& trial, tasks::Task task,
                                          const tokenizers::Tokenizer& tokenizer) {
  TrialData loaded;
  loaded.pad_id_ = std::max<int32_t>(0, tokenizer.pad_id());
  ISTAR_ASSIGN_OR_RETURN(loaded.train_data_,
                         tasks::ReadTaskData(task, trial.task_path, tasks::Split::kTrain));
  // See docs/training.md, "SQuAD": stride and question length shrink with short sequences.
  const int64_t length = trial.training.max_seq_length;
  const tasks::EncodeSettings encode{.max_seq_length = length,
                                     .doc_stride = std::min<int64_t>(128, length / 3),
                                     .max_query_length = std::min<int64_t>(64, length / 4)};
  ISTAR_ASSIGN_OR_RETURN(loaded.train_features_,
                         tasks::BuildFeatures(loaded.train_data_, tokenizer, encode));
  if (loaded.train_features_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(trial.task_path, ": empty train split"));
  }
  for (const std::string_view name : tasks::TaskSpecOf(task).eval_splits) {
    EvalSplit split{.stored_name = tasks::StoredSplitName(name)};
    ISTAR_ASSIGN_OR_RETURN(split.data, tasks::ReadEvalSplit(task, trial.task_path, name));
    ISTAR_ASSIGN_OR_RETURN(split.features, tasks::BuildFeatures(split.data, tokenizer, encode));
    if (split.features.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(split.data.path, ": empty evaluation split ", std::string(name)));
    }
    loaded.eval_splits_.push_back(std::move(split));
  }
  return loaded;
}

}  // namespace istar::trainer::internal

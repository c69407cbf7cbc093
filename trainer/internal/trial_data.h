// The data of one trial (LibTorch-free): its task's train split and evaluation splits, read from
// the trial's task_path and turned into features by the model's tokenizer.
#ifndef ISTAR_TRAINER_INTERNAL_TRIAL_DATA_H_
#define ISTAR_TRAINER_INTERNAL_TRIAL_DATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sweeps/sweep.h"
#include "tasks/task.h"
#include "tokenizers/tokenizer.h"

namespace istar::trainer::internal {

// The stored split names of the two parts of the dev set that training.selection cuts
// (docs/training.md, "Held-out selection").
inline constexpr char kSelectionSplitName[] = "selection";
inline constexpr char kReportSplitName[] = "report";

// One of the task's evaluation splits (its catalogue row's eval_splits, in order), or a part of
// the first of them (training.selection).
struct EvalSplit {
  std::string stored_name;  // tasks::StoredSplitName: "validation", ...; or "selection", "report"
  tasks::TaskData data;
  std::vector<tasks::Feature> features;
};

// Immutable once loaded. Empty when default-constructed.
class TrialData {
 public:
  TrialData() = default;

  // Reads `task`'s train split and every evaluation split from trial.task_path and builds their
  // features with trial.training.max_seq_length (SQuAD's stride, unless training.doc_stride sets
  // it, and question length shrink with it); token type ids all 0 when training.segment_ids is
  // false. With trial.training.selection, the first evaluation split is also cut into the parts
  // "selection" and "report" (tasks::CutForSelection), appended after the task's splits.
  // The readers' and BuildFeatures' errors; InvalidArgument for a split with no features, or
  // for a selection cut of a split with fewer than 2 examples.
  [[nodiscard]] static absl::StatusOr<TrialData> Load(const sweeps::TrialSpec& trial,
                                                      tasks::Task task,
                                                      const tokenizers::Tokenizer& tokenizer);

  const std::vector<tasks::Feature>& train_features() const { return train_features_; }
  // Never empty once loaded; the first is the one whose scores are the trial's final metrics.
  // The task's splits in catalogue order, then "selection" and "report" with training.selection.
  const std::vector<EvalSplit>& eval_splits() const { return eval_splits_; }
  // The tokenizer's padding id (0 when it has none), for Collate.
  int64_t pad_id() const { return pad_id_; }

 private:
  tasks::TaskData train_data_;
  std::vector<tasks::Feature> train_features_;
  std::vector<EvalSplit> eval_splits_;
  int64_t pad_id_ = 0;
};

}  // namespace istar::trainer::internal

#endif  // ISTAR_TRAINER_INTERNAL_TRIAL_DATA_H_

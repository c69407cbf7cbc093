// File: tasks/adapter.h
// -----------------------------------------------------------------------------
// The task-kind adapter: what a trainer needs to know to fine-tune and evaluate a task, derived
// from the KIND of its catalogue row (catalog::TaskKind) and nothing else, so that the trainer
// never names a task. A kind decides the model's head and its number of outputs, the loss, and
// how the head's outputs, gathered on the host, become the task's catalogue metrics:
//
//   kind               head                     outputs           loss                 scored by
//   single-sentence    sequence classification  num_labels        cross-entropy        argmax
//   sentence-pair      sequence classification  num_labels        cross-entropy        argmax
//   regression         sequence classification  1                 mean squared error   the value
//   span-extraction    question answering       2 per token       span cross-entropy   n-best spans
//
// The regression row is Hugging Face's BertForSequenceClassification with num_labels = 1
// (problem_type "regression"): one real output per example, MSELoss against the gold score.
// The LibTorch half (the losses of a head's outputs) is trainer/internal/task_head.h.
//
// Example:
//
//   const tasks::TaskAdapter adapter = tasks::AdapterOf(tasks::Task::kStsb);
//   // ... build the model with adapter.head and adapter.num_outputs, run it over `dev` ...
//   // outputs: row-major [examples, adapter.num_outputs], in example order
//   ISTAR_ASSIGN_OR_RETURN(tasks::Scores scores, tasks::ScoreSequenceOutputs(dev, outputs));
//
//   // Every evaluation split, with the split name its metric rows are stored under:
//   for (std::string_view split : tasks::TaskSpecOf(task).eval_splits) {
//     const std::string stored = tasks::StoredSplitName(split);  // "validation", ...
//   }
//
// Thread safety: every function is a pure function of its arguments.
#ifndef ISTAR_TASKS_ADAPTER_H_
#define ISTAR_TASKS_ADAPTER_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "catalog/catalog.h"
#include "tasks/task.h"

namespace istar::tasks {

// The head a task's model carries (models::Head of the same names; tasks/ does not depend on
// models/).
enum class HeadKind {
  kSequenceClassification,  // one row of num_outputs logits per example, from [CLS]
  kQuestionAnswering,       // a start and an end logit per token
};

// The task loss of a batch, summed over its examples (the trainer divides by the global batch).
enum class LossKind {
  kCrossEntropy,      // of the logits against the label (classification)
  kMeanSquaredError,  // (output - score)^2 of the one output against Feature::score
  kSpan,              // mean of the start and end cross-entropies against the answer's tokens
};

struct TaskAdapter {
  catalog::TaskKind kind = catalog::TaskKind::kSingleSentence;
  HeadKind head = HeadKind::kSequenceClassification;
  // Outputs of the head: the classes of a classification task, 1 for regression; 2 (start and
  // end, per token) for span extraction.
  int64_t num_outputs = 2;
  LossKind loss = LossKind::kCrossEntropy;
  // True when a text pair is encoded ([CLS] a [SEP] b [SEP]): every kind but single-sentence.
  bool pairs = false;
};

// The adapter of a task kind; `num_labels` is the catalogue's label count (used by the
// classification kinds only). A classification kind with num_labels < 2 is a broken catalogue
// row: checked, aborts.
TaskAdapter AdapterOf(catalog::TaskKind kind, int64_t num_labels);
// The adapter of a task's catalogue row.
TaskAdapter AdapterOf(Task task);

// Scores the outputs of a sequence-classification head: `outputs` holds, in example order, one
// row of AdapterOf(data.task).num_outputs values per example of `data` (row-major). For a
// classification task each row's argmax (the first of equal maxima; a NaN counts as the maximum,
// as at::argmax) is the predicted label, scored by ScoreClassification; for a regression task
// the one value is the predicted score, scored by ScoreRegression. Returns every metric of the
// task's catalogue row. Errors: InvalidArgument when data is a span-extraction task, when
// outputs.size() is not examples x num_outputs, or the scorer's errors.
[[nodiscard]] absl::StatusOr<Scores> ScoreSequenceOutputs(const TaskData& data,
                                                          std::span<const double> outputs);

// Scores the outputs of a question-answering head: PostprocessSquad of the concatenated start
// and end logits of `features` (n-best 20, longest answer 30), then ScoreSquad. Errors: those
// of PostprocessSquad and ScoreSquad.
[[nodiscard]] absl::StatusOr<Scores> ScoreSpanOutputs(const TaskData& data,
                                                      const std::vector<Feature>& features,
                                                      std::span<const float> start_logits,
                                                      std::span<const float> end_logits);

// The split name under which the scores of evaluation split `eval_split` (a name of a catalogue
// row's eval_splits) are stored in the results store's metrics and final_results rows:
// "dev" -> "validation" (the name `istar compare` reads by default, unchanged since the first
// tasks), "dev_<suffix>" -> "validation_<suffix>" (MNLI's "dev_mismatched" ->
// "validation_mismatched"); any other name is stored as it is.
std::string StoredSplitName(std::string_view eval_split);

}  // namespace istar::tasks

#endif  // ISTAR_TASKS_ADAPTER_H_

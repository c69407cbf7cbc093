// File: tasks/selection.h
// -----------------------------------------------------------------------------
// The held-out selection split of a dev set (docs/training.md, "Held-out selection"): a task's
// evaluation split cut, by example, into two disjoint parts whose union is the whole split, so
// that a sweep's hyperparameter group can be chosen on one part ("selection") and its score
// reported on the other ("report") without the bias of choosing and reporting on the same
// scores (docs/database.md, "The comparison table"). The cut depends on the number of examples,
// the fraction and the seed ONLY, through a generator written out here (SplitMix64 and a
// Fisher-Yates shuffle), so every trial of a sweep, on any platform and standard library, cuts
// the same dev file identically.
//
// Example:
//
//   ISTAR_ASSIGN_OR_RETURN(tasks::SelectionCut cut,
//                          tasks::CutForSelection(tasks::NumExamples(dev), 0.5, /*seed=*/7));
//   const tasks::TaskSubset selection = tasks::SubsetOfExamples(dev, features, cut.selection);
//   const tasks::TaskSubset report = tasks::SubsetOfExamples(dev, features, cut.report);
//
// Thread safety: every function is a pure function of its arguments.
#ifndef ISTAR_TASKS_SELECTION_H_
#define ISTAR_TASKS_SELECTION_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "tasks/task.h"

namespace istar::tasks {

// The two parts of a cut: example indices (into TaskData::classification or ::squad), each part
// in ascending order (the file's order). Disjoint; together they are 0 .. n - 1.
struct SelectionCut {
  std::vector<int64_t> selection;
  std::vector<int64_t> report;
};

// Cuts n examples: the selection part holds k = floor(fraction * n + 0.5) of them (round half
// up), clamped to [1, n - 1], the report part the other n - k. Which ones: the first k entries of
// the permutation of 0 .. n - 1 that a Fisher-Yates shuffle draws from a SplitMix64 generator
// started at `seed` (for i = n - 1 down to 1: j = next() mod (i + 1), swap entries i and j);
// docs/training.md gives the generator's constants. The same (n, fraction, seed) always gives
// the same cut. Errors: InvalidArgument if n < 2 (no cut leaves both parts non-empty) or
// fraction is not in (0, 1).
[[nodiscard]] absl::StatusOr<SelectionCut> CutForSelection(int64_t n, double fraction,
                                                           uint64_t seed);

// The number of examples of `data`: its SQuAD questions, or else its classification (and
// regression) examples.
int64_t NumExamples(const TaskData& data);

// A part of a task split: its examples and their features.
struct TaskSubset {
  TaskData data;
  std::vector<Feature> features;
};

// The examples of `data` at `indices` (ascending, each in [0, NumExamples(data)): a programming
// error otherwise, checked, aborts), in that order, with the task, split and path of `data` and
// no skipped_lines; and the features of `features` (built from `data`) whose example_index is
// one of them, in their order, each with example_index renumbered to its example's position in
// the subset. Every feature (SQuAD window) of an example goes with it.
TaskSubset SubsetOfExamples(const TaskData& data, const std::vector<Feature>& features,
                            std::span<const int64_t> indices);

}  // namespace istar::tasks

#endif  // ISTAR_TASKS_SELECTION_H_

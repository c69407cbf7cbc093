// File: catalog/catalog.h
// -----------------------------------------------------------------------------
// The catalogues: every regularizer and every task istar knows, one row each. A row says what
// the rest of istar needs to know about its entry without running it: the names a sweep file and
// the database use, a regularizer's hyperparameters (the grid axes of its sweep entry, which are
// also the keys that enter a trial's id), a task's kind, labels and metrics. Sweeps, the database,
// the command line and the coordinator read these rows instead of naming regularizers or tasks;
// regularizers/ and tasks/ build the code for a row from its name.
//
// Adding a regularizer: its class in regularizers/ (docs/isotropy.md, "Adding a regularizer"),
// a row in catalog/regularizers.cc, its tests and its section of docs/isotropy.md. Adding a task:
// its reader in tasks/, a row in catalog/tasks.cc, its tests and docs/tasks.md.
//
// This module is LibTorch-free and depends on nothing but the standard library, so that every
// other module may read it (docs/architecture.md, "Rules").
//
// Example:
//
//   const catalog::RegularizerSpec* spec = catalog::FindRegularizer("istar");
//   if (spec == nullptr) return absl::InvalidArgumentError(absl::StrCat(
//       "unknown regularizer; expected one of ", catalog::RegularizerNames()));
//   for (const catalog::ParameterSpec& parameter : spec->parameters) use(parameter.name);
//
// Thread safety: the catalogues are constant data; every function is thread-safe.
#ifndef ISTAR_CATALOG_CATALOG_H_
#define ISTAR_CATALOG_CATALOG_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace istar::catalog {

// ---------------------------------------------------------------------------------------------
// Regularizers.

// The values a hyperparameter may take: [min, max], min excluded when min_open.
struct Range {
  double min = -std::numeric_limits<double>::infinity();
  bool min_open = false;
  double max = std::numeric_limits<double>::infinity();

  bool Contains(double value) const {
    return (min_open ? value > min : value >= min) && value <= max;
  }
};

// One numeric hyperparameter of a regularizer. In a sweep file it is an axis of the
// regularizer's entry (`vicreg: {lambda: [0.1, 1], gamma: 1}`); in a trial's canonical JSON it is
// a top-level key of that name, present only for the regularizers that have it (so adding a
// regularizer changes no existing trial's id).
struct ParameterSpec {
  std::string_view name;                // "lambda", "zeta", "gamma", ...: a key of the sweep entry
  Range range;                          // checked when a sweep file is read
  std::optional<double> default_value;  // nullopt: the sweep entry must give it
  std::string_view meaning;             // one line, for `istar regularizers` and the docs
};

// Which hidden states a regularizer reads when the sweep's `training.regularizer_layers` is
// empty.
enum class DefaultLayers {
  kAll,   // every transformer layer (the I-STAR paper's choice)
  kLast,  // the last layer only (sentence-level objectives: their papers regularize the output)
};

struct RegularizerSpec {
  std::string_view name;      // as written in sweep files and stored in the database
  std::string_view summary;   // one line: what the term is
  std::string_view citation;  // the paper it comes from ("" for the baseline)
  // Its hyperparameters, in the order a sweep's random sampling draws them. Every regularizer but
  // the baseline has "lambda", the weight of its term in the loss.
  std::span<const ParameterSpec> parameters;
  // True when the term shrinks towards S0, the covariance of a large sample of training points
  // that the trainer re-estimates at the start of each epoch (I-STAR with zeta > 0).
  bool uses_shrinkage = false;
  DefaultLayers default_layers = DefaultLayers::kAll;

  // The parameter called `name`, or null.
  const ParameterSpec* FindParameter(std::string_view name) const;
  bool has_lambda() const { return FindParameter("lambda") != nullptr; }
};

// Every regularizer, in the order tables show them: the baseline first (every other column is
// compared with it), then the I-STAR paper's two, then the others.
std::span<const RegularizerSpec> Regularizers();
// The row called `name`, or null.
const RegularizerSpec* FindRegularizer(std::string_view name);
// The row's position in Regularizers() (the order of table columns); Regularizers().size() for
// a name that is not in the catalogue, so that unknown names sort last.
size_t RegularizerOrder(std::string_view name);
// "baseline, cosreg, istar, ...": the names, for messages.
std::string RegularizerNames();

// ---------------------------------------------------------------------------------------------
// Tasks.

enum class TaskKind {
  kSingleSentence,  // classification of one text (SST-2, SST-5, CoLA)
  kSentencePair,    // classification of a pair of texts (QNLI, MRPC, QQP, RTE, MNLI)
  kRegression,      // a real-valued score of a pair of texts (STS-B)
  kSpanExtraction,  // an answer span in a context (SQuAD)
};

// "single-sentence", "sentence-pair", "regression", "span-extraction".
std::string_view TaskKindName(TaskKind kind);

struct TaskSpec {
  std::string_view name;   // as written in sweep files and stored in the database: "sst2"
  std::string_view title;  // as the literature writes it: "SST-2"
  TaskKind kind = TaskKind::kSingleSentence;
  // Class names in label order (label i is labels[i]); empty for regression and span tasks.
  std::span<const std::string_view> labels;
  // The keys of the scores an evaluation reports, primary first (tasks::Scores::values).
  std::span<const std::string_view> metrics;
  // The metric a sweep optimises and `istar compare` ranks by; higher is better for every task.
  std::string_view primary_metric;
  // The evaluation splits, each the name of the task's file set (docs/tasks.md): "dev" for most
  // tasks; MNLI has "dev" (matched) and "dev_mismatched". The database stores their scores under
  // "validation" and "validation_mismatched" (tasks::StoredSplitName).
  std::span<const std::string_view> eval_splits;

  int64_t num_labels() const { return static_cast<int64_t>(labels.size()); }
};

// Every task, in the order of docs/tasks.md.
std::span<const TaskSpec> Tasks();
// The row called `name`, or null.
const TaskSpec* FindTask(std::string_view name);
// "sst2, sst5, qnli, squad, ...": the names, for messages.
std::string TaskNames();

}  // namespace istar::catalog

#endif  // ISTAR_CATALOG_CATALOG_H_

// The task catalogue: one row per task (catalog.h). docs/tasks.md describes each task's files.
#include "catalog/catalog.h"

namespace istar::catalog {
namespace {

constexpr std::string_view kDev[] = {"dev"};
// MNLI's two dev sets: "dev" is dev_matched.tsv, "dev_mismatched" dev_mismatched.tsv.
constexpr std::string_view kMnliSplits[] = {"dev", "dev_mismatched"};
constexpr std::string_view kAccuracy[] = {"accuracy"};
constexpr std::string_view kSquadMetrics[] = {"f1", "exact_match"};
// GLUE's metrics for CoLA (Matthews correlation), MRPC and QQP (F1 of the positive class, then
// accuracy: GLUE's "F1/Acc." columns) and STS-B (Pearson, then Spearman).
constexpr std::string_view kColaMetrics[] = {"matthews_corr", "accuracy"};
constexpr std::string_view kF1Metrics[] = {"f1", "accuracy"};
constexpr std::string_view kStsbMetrics[] = {"pearson", "spearman"};

constexpr std::string_view kSst2Labels[] = {"negative", "positive"};
constexpr std::string_view kSst5Labels[] = {"very negative", "negative", "neutral", "positive",
                                            "very positive"};
// GLUE's label list for QNLI.
constexpr std::string_view kQnliLabels[] = {"entailment", "not_entailment"};
// GLUE's label lists (as Hugging Face `datasets` names them: label i is the i-th class).
constexpr std::string_view kColaLabels[] = {"unacceptable", "acceptable"};
constexpr std::string_view kMrpcLabels[] = {"not_equivalent", "equivalent"};
constexpr std::string_view kQqpLabels[] = {"not_duplicate", "duplicate"};
constexpr std::string_view kRteLabels[] = {"entailment", "not_entailment"};
// Hugging Face `datasets`' order, not the legacy transformers / BERT run_classifier.py processor's
// ["contradiction", "entailment", "neutral"]: docs/tasks.md, "MNLI".
constexpr std::string_view kMnliLabels[] = {"entailment", "neutral", "contradiction"};

constexpr TaskSpec kTasks[] = {
    {.name = "sst2",
     .title = "SST-2",
     .kind = TaskKind::kSingleSentence,
     .labels = kSst2Labels,
     .metrics = kAccuracy,
     .primary_metric = "accuracy",
     .eval_splits = kDev},
    {.name = "sst5",
     .title = "SST-5",
     .kind = TaskKind::kSingleSentence,
     .labels = kSst5Labels,
     .metrics = kAccuracy,
     .primary_metric = "accuracy",
     .eval_splits = kDev},
    {.name = "qnli",
     .title = "QNLI",
     .kind = TaskKind::kSentencePair,
     .labels = kQnliLabels,
     .metrics = kAccuracy,
     .primary_metric = "accuracy",
     .eval_splits = kDev},
    {.name = "squad",
     .title = "SQuAD v1.1",
     .kind = TaskKind::kSpanExtraction,
     .metrics = kSquadMetrics,
     .primary_metric = "f1",
     .eval_splits = kDev},
    {.name = "cola",
     .title = "CoLA",
     .kind = TaskKind::kSingleSentence,
     .labels = kColaLabels,
     .metrics = kColaMetrics,
     .primary_metric = "matthews_corr",
     .eval_splits = kDev},
    {.name = "mrpc",
     .title = "MRPC",
     .kind = TaskKind::kSentencePair,
     .labels = kMrpcLabels,
     .metrics = kF1Metrics,
     .primary_metric = "f1",
     .eval_splits = kDev},
    {.name = "qqp",
     .title = "QQP",
     .kind = TaskKind::kSentencePair,
     .labels = kQqpLabels,
     .metrics = kF1Metrics,
     .primary_metric = "f1",
     .eval_splits = kDev},
    {.name = "rte",
     .title = "RTE",
     .kind = TaskKind::kSentencePair,
     .labels = kRteLabels,
     .metrics = kAccuracy,
     .primary_metric = "accuracy",
     .eval_splits = kDev},
    {.name = "stsb",
     .title = "STS-B",
     .kind = TaskKind::kRegression,
     .metrics = kStsbMetrics,
     .primary_metric = "pearson",
     .eval_splits = kDev},
    {.name = "mnli",
     .title = "MNLI",
     .kind = TaskKind::kSentencePair,
     .labels = kMnliLabels,
     .metrics = kAccuracy,
     .primary_metric = "accuracy",
     .eval_splits = kMnliSplits},
};

}  // namespace

std::string_view TaskKindName(TaskKind kind) {
  switch (kind) {
    case TaskKind::kSingleSentence:
      return "single-sentence";
    case TaskKind::kSentencePair:
      return "sentence-pair";
    case TaskKind::kRegression:
      return "regression";
    case TaskKind::kSpanExtraction:
      return "span-extraction";
  }
  return "unknown";
}

std::span<const TaskSpec> Tasks() { return kTasks; }

const TaskSpec* FindTask(std::string_view name) {
  for (const TaskSpec& spec : kTasks) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

std::string TaskNames() {
  std::string names;
  for (const TaskSpec& spec : kTasks) {
    if (!names.empty()) names += ", ";
    names += spec.name;
  }
  return names;
}

}  // namespace istar::catalog

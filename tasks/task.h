// File: tasks/task.h
// -----------------------------------------------------------------------------
// The fine-tuning tasks of the I-STAR paper (SST-2, SST-5, QNLI, SQuAD v1.1, and the GLUE tasks
// CoLA, MRPC, QQP, RTE, STS-B and MNLI of its ICLR version): readers for their files, model
// features (token ids, labels or regression scores, SQuAD answer positions in sliding windows),
// SQuAD post-processing (logits to answer strings), the metrics, and small synthetic tasks that
// let a tiny model train with no downloads. What the rest of istar knows of a task (its kind,
// labels, metrics and evaluation splits) is its row of the catalogue (catalog/catalog.h), which
// TaskSpecOf returns. File formats, label mappings, windowing and the metrics are described in
// docs/tasks.md. This module is LibTorch-free: tensors are built from Feature by the trainer.
//
// Example:
//
//   using tasks::Task, tasks::Split;
//   ISTAR_ASSIGN_OR_RETURN(tasks::TaskData dev, ReadTaskData(Task::kSst2, "sst2", Split::kDev));
//   ISTAR_ASSIGN_OR_RETURN(std::vector<tasks::Feature> features,
//                          tasks::BuildFeatures(dev, *tokenizer, {.max_seq_length = 256}));
//   // ... run the model, take the argmax of each feature's logits into `predictions` ...
//   ISTAR_ASSIGN_OR_RETURN(tasks::Scores scores, tasks::ScoreClassification(dev, predictions));
//
//   // Every evaluation split of a task (MNLI: "dev" and "dev_mismatched"):
//   for (std::string_view name : tasks::TaskSpecOf(Task::kMnli).eval_splits) {
//     ISTAR_ASSIGN_OR_RETURN(tasks::TaskData eval, ReadEvalSplit(Task::kMnli, "mnli", name));
//   }
//
// Thread safety: every function is a pure function of its arguments (the readers and writers
// touch only the files they name) and may be called concurrently; concurrent writes to the same
// folder are the caller's problem.
//
// Errors: InvalidArgument for malformed input, with the message starting "path:line: " (line
// numbers from 1, as an editor shows them); NotFound for a missing file; Internal when a file
// cannot be written.
#ifndef ISTAR_TASKS_TASK_H_
#define ISTAR_TASKS_TASK_H_

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "catalog/catalog.h"
#include "tokenizers/tokenizer.h"

namespace istar::tasks {

// ---------------------------------------------------------------------------------------------
// Tasks and splits.

// One per row of the task catalogue (catalog::Tasks()), in its order.
enum class Task { kSst2, kSst5, kQnli, kSquad, kCola, kMrpc, kQqp, kRte, kStsb, kMnli };

// The catalogue name: "sst2", "sst5", "qnli", "squad", "cola", "mrpc", "qqp", "rte", "stsb",
// "mnli" (exactly, lower case); nullopt for anything else.
std::optional<Task> ParseTask(std::string_view name);
// The inverse of ParseTask.
std::string_view TaskName(Task task);
// The task's catalogue row: kind, labels, metrics (primary first), evaluation splits.
const catalog::TaskSpec& TaskSpecOf(Task task);
// Classes of a classification task, the size of its catalogue labels: 2 (SST-2, QNLI, CoLA, MRPC,
// QQP, RTE), 5 (SST-5), 3 (MNLI); 0 for SQuAD (a span task) and STS-B (a regression task: its
// model has one output, see TaskSpecOf(task).kind).
int64_t NumLabels(Task task);
// The metric a sweep optimises, the catalogue's primary_metric: "accuracy" (SST-2, SST-5, QNLI,
// RTE, MNLI), "f1" (SQuAD, MRPC, QQP), "matthews_corr" (CoLA), "pearson" (STS-B). It is a key of
// Scores::values.
std::string_view PrimaryMetric(Task task);

// A split of a task's files. kDevMismatched exists for MNLI only (dev_mismatched.tsv; kDev is its
// dev_matched.tsv).
enum class Split { kTrain, kDev, kDevMismatched };

// "train", "dev", "dev_mismatched": the names the catalogue's eval_splits use.
std::string_view SplitName(Split split);
// The inverse of SplitName; nullopt for anything else.
std::optional<Split> ParseSplit(std::string_view name);

// ---------------------------------------------------------------------------------------------
// Examples, as read from the files.

// One sentence (SST-2, SST-5, CoLA) or sentence pair (QNLI: question, sentence; MRPC, RTE, STS-B:
// sentence1, sentence2; QQP: question1, question2; MNLI: premise, hypothesis).
struct ClassificationExample {
  std::string text_a;
  std::string text_b;  // empty for single-sentence tasks
  // 0 .. NumLabels(task) - 1, see docs/tasks.md for each mapping; -1 for STS-B (regression).
  int64_t label = 0;
  int64_t line = 0;  // the line of the file it came from, from 1
  double score = 0;  // STS-B: the gold similarity, in [0, 5]; 0 for the other tasks
};

struct SquadAnswer {
  std::string text;
  int64_t start = 0;  // index of the answer's first CODE POINT in the context, as in the file
};

struct SquadExample {
  std::string id;
  std::string question;
  std::string context;
  std::vector<SquadAnswer> answers;  // one in train, usually three (possibly equal) in dev
};

// A task's split, as read. Exactly one of `classification` and `squad` is filled.
struct TaskData {
  Task task = Task::kSst2;
  Split split = Split::kTrain;
  std::string path;  // the file it was read from
  std::vector<ClassificationExample> classification;
  std::vector<SquadExample> squad;
  // The lines of the rows the reader skipped, in file order: QQP's rows without exactly 6 fields
  // (docs/tasks.md, "QQP"). Empty for every other task, whose readers reject such rows.
  std::vector<int64_t> skipped_lines;
};

// Reads a split from a task folder (the folders of GLUE's download script, glue_data/<TASK>/):
//   sst2, qnli, cola, mrpc, qqp, rte, stsb: train.tsv, dev.tsv;
//   mnli:       train.tsv, dev_matched.tsv (Split::kDev), dev_mismatched.tsv (kDevMismatched);
//   sst5:       ids-sst-train.csv / ids-sst-dev.csv, else train.tsv / dev.tsv (same format);
//   squad:      train-v1.1.json / dev-v1.1.json.
// Returns NotFound if the file is missing, InvalidArgument for kDevMismatched of a task other
// than MNLI, or the reader's InvalidArgument.
[[nodiscard]] absl::StatusOr<TaskData> ReadTaskData(Task task, const std::string& folder,
                                                    Split split);

// Reads the evaluation split called `split_name`, one of TaskSpecOf(task).eval_splits ("dev";
// MNLI also "dev_mismatched"), as ReadTaskData does. This is how a caller that walks the
// catalogue's eval_splits reads each of them. Errors: InvalidArgument if the name is not one of
// the task's evaluation splits; else as ReadTaskData.
[[nodiscard]] absl::StatusOr<TaskData> ReadEvalSplit(Task task, const std::string& folder,
                                                     std::string_view split_name);

// GLUE SST-2: header "sentence\tlabel", then "sentence\tlabel" rows with labels 0 (negative) /
// 1 (positive). Surrounding whitespace of the sentence is trimmed (GLUE rows end with a space
// before the tab). split is set to kTrain; ReadTaskData sets the real one.
// Errors: NotFound (missing file); InvalidArgument "path:line: ..." for a bad header, a row
// without exactly 2 fields, or a label other than 0/1.
[[nodiscard]] absl::StatusOr<TaskData> ReadSst2Tsv(const std::string& path);

// GLUE QNLI: header "index\tquestion\tsentence\tlabel"; labels "entailment" -> 0,
// "not_entailment" -> 1 (the order of GLUE's label list). Fields are trimmed of ASCII whitespace
// and otherwise kept byte for byte, so stray U+FEFF characters inside a field (the real dev file
// has three) pass through unchanged; only a byte-order mark at the start of the file is skipped.
// Errors as ReadSst2Tsv (4 fields).
[[nodiscard]] absl::StatusOr<TaskData> ReadQnliTsv(const std::string& path);

// SST-5 sentences, tab-separated despite the .csv name: header "\tid\tsentence\tsentiment",
// rows "row\tid\tsentence\tlabel" with labels 0 (very negative) .. 4 (very positive).
// Errors as ReadSst2Tsv (4 fields, labels 0..4).
[[nodiscard]] absl::StatusOr<TaskData> ReadSst5(const std::string& path);

// The GLUE readers below take the files of GLUE's download script as they are (docs/tasks.md
// shows each format). Fields are trimmed of ASCII whitespace; rows have exactly the header's
// number of fields. Errors: NotFound (missing file); InvalidArgument "path:line: ..." for a bad
// header, a row with the wrong number of fields (except QQP's, which are skipped), or a bad label.

// GLUE CoLA train.tsv / dev.tsv: NO header; rows "source\tlabel\tauthor's mark\tsentence" with
// labels 0 (unacceptable) / 1 (acceptable); the mark ("", "*", "?", ...) is ignored.
[[nodiscard]] absl::StatusOr<TaskData> ReadColaTsv(const std::string& path);

// GLUE MRPC: header "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String" (GLUE's files start with the
// byte-order mark of Microsoft's originals, which is skipped); the label comes first:
// 0 (not_equivalent) / 1 (equivalent).
[[nodiscard]] absl::StatusOr<TaskData> ReadMrpcTsv(const std::string& path);

// GLUE QQP: header "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate"; labels 0
// (not_duplicate) / 1 (duplicate). A row without exactly 6 fields is skipped and its line
// recorded in TaskData::skipped_lines (as Hugging Face's GLUE loaders drop it); a 6-field row
// with another label is an error.
[[nodiscard]] absl::StatusOr<TaskData> ReadQqpTsv(const std::string& path);

// GLUE RTE: header "index\tsentence1\tsentence2\tlabel"; labels "entailment" -> 0,
// "not_entailment" -> 1.
[[nodiscard]] absl::StatusOr<TaskData> ReadRteTsv(const std::string& path);

// GLUE STS-B: the header of 10 fields
//   "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore";
// text_a is sentence1, text_b sentence2; the score, a decimal number in [0, 5], goes to
// ClassificationExample::score, and label is -1. Errors also for a score that is not a finite
// decimal number or lies outside [0, 5].
[[nodiscard]] absl::StatusOr<TaskData> ReadStsbTsv(const std::string& path);

// GLUE MNLI: train.tsv (12 fields: index, promptID, pairID, genre, sentence1_binary_parse,
// sentence2_binary_parse, sentence1_parse, sentence2_parse, sentence1, sentence2, label1,
// gold_label) or dev_matched.tsv / dev_mismatched.tsv (16 fields: label1 .. label5, then
// gold_label); the header says which. text_a is sentence1 (field 8, from 0), text_b sentence2
// (field 9), the label the last field: "entailment" -> 0, "neutral" -> 1, "contradiction" -> 2.
// split is set to kTrain; ReadTaskData sets the real one.
[[nodiscard]] absl::StatusOr<TaskData> ReadMnliTsv(const std::string& path);

// SQuAD v1.1 JSON ({"data": [{"paragraphs": [{"context", "qas": [{"id", "question",
// "answers": [{"text", "answer_start"}]}]}]}]}); each question becomes one SquadExample holding
// a copy of its context. Errors: NotFound; InvalidArgument "path:line:column: invalid JSON: ..."
// for a syntax error, "path: data[3].paragraphs[0].qas[2]: ..." for a missing or mistyped field
// or an answer whose answer_start + length (in code points) lies outside the context.
[[nodiscard]] absl::StatusOr<TaskData> ReadSquadJson(const std::string& path);

// ---------------------------------------------------------------------------------------------
// Features: what the model consumes.

struct EncodeSettings {
  int64_t max_seq_length = 256;   // ids per feature, special tokens included (SQuAD: 384)
  int64_t doc_stride = 128;       // SQuAD: tokens shared by consecutive context windows
  int64_t max_query_length = 64;  // SQuAD: question tokens kept (the rest are cut)
};

struct Feature {
  std::vector<int32_t> input_ids;
  std::vector<int32_t> token_type_ids;
  int64_t label = -1;  // classification: the example's label; -1 for SQuAD and STS-B
  // Regression (STS-B): the example's score, the target of the model's one output; 0 otherwise.
  double score = 0;
  int64_t example_index = 0;  // index into TaskData::classification or TaskData::squad
  // SQuAD only. Token indices of the first answer's first and last token in this window; both 0
  // ([CLS]) when the answer is not entirely inside the window (and for dev examples' windows
  // that miss the first answer).
  int64_t start_position = 0;
  int64_t end_position = 0;
  // SQuAD only: per token, its [begin, end) byte range in the example's context; (-1, -1) for
  // special and question tokens. Empty for classification.
  std::vector<std::pair<int64_t, int64_t>> context_offsets;
};

// Tokenises every example. Classification and regression: one feature per example, [CLS] a [SEP]
// for single-sentence tasks, [CLS] a [SEP] b [SEP] for the others (the catalogue's kind), truncated
// longest-first to max_seq_length, with the example's label and score. SQuAD: [CLS] question [SEP]
// window [SEP] for each window of the context: the question is cut to max_query_length tokens, each
// window holds at most max_seq_length - question - 3 context tokens and starts doc_stride tokens
// before the previous one ends (Hugging Face's only_second + stride + return_overflowing_tokens),
// so one example gives one or more features, in order. Answer char positions go to bytes with
// tokenizers::CodePointIndexToByteOffset, then to the tokens that cover them.
// Errors: InvalidArgument if the settings are not positive, or if max_seq_length cannot hold the
// special tokens, the question and doc_stride + 1 context tokens (so windows always advance).
[[nodiscard]] absl::StatusOr<std::vector<Feature>> BuildFeatures(
    const TaskData& data, const tokenizers::Tokenizer& tokenizer, const EncodeSettings& settings);

// ---------------------------------------------------------------------------------------------
// SQuAD post-processing.

struct SquadPrediction {
  std::string id;    // SquadExample::id
  std::string text;  // the predicted answer, a substring of the context ("" if none is valid)
};

// Chooses each example's answer from the model's logits. start_logits and end_logits hold every
// feature's logits concatenated in the order of `features` (feature i contributes
// features[i].input_ids.size() values). For each example, over all its features: the n_best
// highest start and end logits are paired; a pair is valid if both tokens are context tokens,
// end >= start and end - start + 1 <= max_answer_length; the best valid pair by start + end logit
// gives the context bytes [offset(start).begin, offset(end).end). One prediction per example, in
// example order. Errors: InvalidArgument if the logit spans do not have the total length of the
// features, a feature's example_index is out of range, or data is not a SQuAD task.
[[nodiscard]] absl::StatusOr<std::vector<SquadPrediction>> PostprocessSquad(
    const TaskData& data, const std::vector<Feature>& features, std::span<const float> start_logits,
    std::span<const float> end_logits, int64_t n_best = 20, int64_t max_answer_length = 30);

// ---------------------------------------------------------------------------------------------
// Metrics.

// Fraction (0..1) of positions where predictions equal labels; 0 for empty input. The spans
// must have the same size (a programming error otherwise: checked, aborts).
double Accuracy(std::span<const int64_t> predictions, std::span<const int64_t> labels);

// Binary metrics, class 1 positive (docs/tasks.md, "Metrics"). Every value must be 0 or 1 and the
// spans the same size (a programming error otherwise: checked, aborts).
//
// Matthews correlation coefficient, in [-1, 1]:
//   (TP TN - FP FN) / sqrt((TP + FP) (TP + FN) (TN + FP) (TN + FN)),
// 0 when a factor under the root is 0 (one class only, in the predictions or in the labels, or
// empty input), as scikit-learn's matthews_corrcoef returns.
double MatthewsCorrelation(std::span<const int64_t> predictions, std::span<const int64_t> labels);
// F1 of class 1: 2 P R / (P + R) with P = TP / (TP + FP), R = TP / (TP + FN), i.e.
// 2 TP / (2 TP + FP + FN); 0 when TP = 0 (scikit-learn's f1_score, zero_division=0).
double BinaryF1(std::span<const int64_t> predictions, std::span<const int64_t> labels);

// Correlations of two series of the same size (checked, aborts). Pearson's r is
// cov(x, y) / (sd(x) sd(y)), clamped to [-1, 1]; Spearman's rho is Pearson's r of the ranks, where
// tied values get the mean of the ranks they span (scipy.stats.spearmanr). Both are 0 when they
// are undefined (fewer than 2 values, or either series constant), as the binary metrics, where
// scipy would return NaN; NaN if any value is NaN or infinite.
double PearsonCorrelation(std::span<const double> x, std::span<const double> y);
double SpearmanCorrelation(std::span<const double> x, std::span<const double> y);

// The official SQuAD v1.1 normalisation: lower-case (ASCII), remove ASCII punctuation (Python's
// string.punctuation), remove the whole words "a", "an", "the", collapse whitespace to single
// spaces, trim. "The  Cat's hat!" -> "cats hat".
std::string NormalizeAnswer(std::string_view text);
// 1 if the normalised strings are equal, else 0.
double ExactMatch(std::string_view prediction, std::string_view gold);
// Token-level F1 of the normalised strings split on whitespace (bag of tokens, counted with
// multiplicity); 0 if they share no token (so 0 if either is empty).
double F1(std::string_view prediction, std::string_view gold);

// Named metric values, keyed by the task's catalogue metrics: FRACTIONS for the classification
// and regression tasks ({"accuracy": 0.91}, {"matthews_corr": 0.55, "accuracy": 0.82},
// {"f1": 0.89, "accuracy": 0.85}, {"pearson": 0.88, "spearman": 0.87});
// {"exact_match": 80.1, "f1": 88.2} (PERCENTAGES, as the official SQuAD script prints) for SQuAD.
struct Scores {
  std::map<std::string, double> values;
};

// The task's catalogue metrics of one predicted label per classification example (in example
// order): accuracy, plus matthews_corr (CoLA) or f1 of class 1 (MRPC, QQP).
// Errors: InvalidArgument if sizes differ, a prediction is not a label of the task
// (0 .. NumLabels - 1), or data is not a classification task (SQuAD, STS-B).
[[nodiscard]] absl::StatusOr<Scores> ScoreClassification(const TaskData& data,
                                                         std::span<const int64_t> predictions);

// {"pearson", "spearman"} of one predicted score per example of a regression task (STS-B)
// against the gold scores, in example order. Errors: InvalidArgument if sizes differ or data is
// not a regression task.
[[nodiscard]] absl::StatusOr<Scores> ScoreRegression(const TaskData& data,
                                                     std::span<const double> predictions);

// Exact match and F1 as the official v1.1 script computes them: per question the best over its
// gold answers, averaged over ALL questions (a question without a prediction scores 0) and
// multiplied by 100. Predictions are matched by id; unknown ids are ignored.
// Errors: InvalidArgument if data is not SQuAD or holds no questions.
[[nodiscard]] absl::StatusOr<Scores> ScoreSquad(const TaskData& data,
                                                const std::vector<SquadPrediction>& predictions);

// ---------------------------------------------------------------------------------------------
// Demo data: small synthetic tasks for smoke tests and demos (docs/tasks.md, "Demo data").

struct DemoOptions {
  uint64_t seed = 1;              // same seed, same files, on every platform
  int64_t train_examples = 2000;  // rows (sentiment) or questions (QA) in the train split
  int64_t dev_examples = 200;     // in the dev split
  // How hard the sentiment task is (WriteDemoSentimentTask only); both 0, the default: every
  // sentence states its label plainly, and a tiny model reaches accuracy 1.
  // The share of sentences whose sentiment words point both ways: "the film was wonderful but
  // tedious" (the clause after "but" decides) or "the plot was not wonderful" (negated).
  double contrast_fraction = 0.0;
  // The share of labels flipped at random, in train and dev alike: the best dev accuracy is then
  // about 1 - label_noise.
  double label_noise = 0.0;
};

// Writes folder/train.tsv and folder/dev.tsv in SST-2 format: sentences such as "the film was
// wonderful and moving" whose label (1 positive, 0 negative) follows from their sentiment words,
// but for options.contrast_fraction and options.label_noise. Creates the folder if needed.
// Errors: InvalidArgument for negative sizes or a fraction outside [0, 1]; Internal if a file
// cannot be written.
[[nodiscard]] absl::Status WriteDemoSentimentTask(const std::string& folder,
                                                  const DemoOptions& options = {});

// Writes folder/train-v1.1.json and folder/dev-v1.1.json in SQuAD v1.1 format: contexts of a few
// synthetic sentences ("the red fox lives in paris ."), questions whose answers are spans of
// them ("where does the red fox live ?" -> "paris"). Errors as WriteDemoSentimentTask.
[[nodiscard]] absl::Status WriteDemoQaTask(const std::string& folder,
                                           const DemoOptions& options = {});

// Writes a synthetic task in the exact file format of GLUE's copy of `task` (docs/tasks.md,
// "Demo data"): for CoLA, MRPC, QQP, RTE and STS-B folder/train.tsv and folder/dev.tsv, for MNLI
// folder/train.tsv, dev_matched.tsv and dev_mismatched.tsv (dev_examples rows each), for SST-2
// WriteDemoSentimentTask's files. Sentences are made of the demo sentiment words; a label (or
// STS-B's score) follows from their polarity: CoLA's "acceptable" sentences are the positive
// ones; the first sentence of a pair is always positive, and the pair is equivalent / a
// duplicate / an entailment (STS-B: a score in [4, 5]) when the second is positive too, not
// (contradiction; STS-B [0, 1]) when it is negative; MNLI's neutral hypotheses (STS-B [2, 3])
// hold neutral words only.
// Errors: InvalidArgument for another task (SQuAD: WriteDemoQaTask) or negative sizes; Internal
// if a file cannot be written.
[[nodiscard]] absl::Status WriteDemoGlueTask(Task task, const std::string& folder,
                                             const DemoOptions& options = {});

// Writes a WordPiece vocab.txt covering every word of both demo tasks: [PAD]=0, [UNK]=1, [CLS]=2,
// [SEP]=3, [MASK]=4, then the words, punctuation and the ASCII letters (so any lower-case text
// tokenises without [UNK]). Load it with tokenizers::LoadWordPieceVocab. Errors: Internal if it
// cannot be written (the parent folder must exist).
[[nodiscard]] absl::Status WriteDemoVocab(const std::string& path);

}  // namespace istar::tasks

#endif  // ISTAR_TASKS_TASK_H_

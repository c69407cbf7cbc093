// File: tasks/task.h
// -----------------------------------------------------------------------------
// The four fine-tuning tasks of the I-STAR paper (SST-2, SST-5, QNLI, SQuAD v1.1): readers for
// their files, model features (token ids, labels, SQuAD answer positions in sliding windows),
// SQuAD post-processing (logits to answer strings), the metrics, and small synthetic tasks that
// let a tiny model train with no downloads. File formats, label mappings, windowing and the
// metrics are described in docs/tasks.md. This module is LibTorch-free: tensors are built from
// Feature by the trainer.
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
#include "tokenizers/tokenizer.h"

namespace istar::tasks {

// ---------------------------------------------------------------------------------------------
// Tasks and splits.

enum class Task { kSst2, kSst5, kQnli, kSquad };

// "sst2", "sst5", "qnli" or "squad" (exactly, lower case); nullopt for anything else.
std::optional<Task> ParseTask(std::string_view name);
// The inverse of ParseTask: "sst2", "sst5", "qnli", "squad".
std::string_view TaskName(Task task);
// Classes of a classification task: 2 (SST-2), 5 (SST-5), 2 (QNLI); 0 for SQuAD (a span task).
int64_t NumLabels(Task task);
// The metric a sweep optimises: "accuracy" for the classification tasks, "f1" for SQuAD. It is
// a key of Scores::values.
std::string_view PrimaryMetric(Task task);

enum class Split { kTrain, kDev };

// ---------------------------------------------------------------------------------------------
// Examples, as read from the files.

// One sentence (SST-2, SST-5) or sentence pair (QNLI: question, sentence).
struct ClassificationExample {
  std::string text_a;
  std::string text_b;  // empty for single-sentence tasks
  int64_t label = 0;   // 0 .. NumLabels(task) - 1; see docs/tasks.md for each mapping
  int64_t line = 0;    // the line of the file it came from, from 1
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
};

// Reads a split from a task folder:
//   sst2, qnli: train.tsv, dev.tsv (GLUE layout);
//   sst5:       ids-sst-train.csv / ids-sst-dev.csv, else train.tsv / dev.tsv (same format);
//   squad:      train-v1.1.json / dev-v1.1.json.
// Returns NotFound if the file is missing, or the reader's InvalidArgument.
[[nodiscard]] absl::StatusOr<TaskData> ReadTaskData(Task task, const std::string& folder,
                                                    Split split);

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
  int64_t label = -1;         // classification: the example's label; -1 for SQuAD
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

// Tokenises every example. Classification: one feature per example, [CLS] a [SEP] (b [SEP]),
// truncated longest-first to max_seq_length. SQuAD: [CLS] question [SEP] window [SEP] for each
// window of the context: the question is cut to max_query_length tokens, each window holds at
// most max_seq_length - question - 3 context tokens and starts doc_stride tokens before the
// previous one ends (Hugging Face's only_second + stride + return_overflowing_tokens), so one
// example gives one or more features, in order. Answer char positions go to bytes with
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

// The official SQuAD v1.1 normalisation: lower-case (ASCII), remove ASCII punctuation (Python's
// string.punctuation), remove the whole words "a", "an", "the", collapse whitespace to single
// spaces, trim. "The  Cat's hat!" -> "cats hat".
std::string NormalizeAnswer(std::string_view text);
// 1 if the normalised strings are equal, else 0.
double ExactMatch(std::string_view prediction, std::string_view gold);
// Token-level F1 of the normalised strings split on whitespace (bag of tokens, counted with
// multiplicity); 0 if they share no token (so 0 if either is empty).
double F1(std::string_view prediction, std::string_view gold);

// Named metric values: {"accuracy": 0.91} (a fraction) for classification;
// {"exact_match": 80.1, "f1": 88.2} (PERCENTAGES, as the official SQuAD script prints) for SQuAD.
struct Scores {
  std::map<std::string, double> values;
};

// Accuracy of one predicted label per classification example (in example order).
// Errors: InvalidArgument if sizes differ or data is SQuAD.
[[nodiscard]] absl::StatusOr<Scores> ScoreClassification(const TaskData& data,
                                                         std::span<const int64_t> predictions);

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
};

// Writes folder/train.tsv and folder/dev.tsv in SST-2 format: sentences such as "the film was
// wonderful and moving" whose label (1 positive, 0 negative) follows from their sentiment words.
// Creates the folder if needed. Errors: InvalidArgument for negative sizes; Internal if a file
// cannot be written.
[[nodiscard]] absl::Status WriteDemoSentimentTask(const std::string& folder,
                                                  const DemoOptions& options = {});

// Writes folder/train-v1.1.json and folder/dev-v1.1.json in SQuAD v1.1 format: contexts of a few
// synthetic sentences ("the red fox lives in paris ."), questions whose answers are spans of
// them ("where does the red fox live ?" -> "paris"). Errors as WriteDemoSentimentTask.
[[nodiscard]] absl::Status WriteDemoQaTask(const std::string& folder,
                                           const DemoOptions& options = {});

// Writes a WordPiece vocab.txt covering every word of both demo tasks: [PAD]=0, [UNK]=1, [CLS]=2,
// [SEP]=3, [MASK]=4, then the words, punctuation and the ASCII letters (so any lower-case text
// tokenises without [UNK]). Load it with tokenizers::LoadWordPieceVocab. Errors: Internal if it
// cannot be written (the parent folder must exist).
[[nodiscard]] absl::Status WriteDemoVocab(const std::string& path);

}  // namespace istar::tasks

#endif  // ISTAR_TASKS_TASK_H_

// The task-kind adapter: head, outputs and loss per kind, scoring a head's host-side outputs
// against hand-computed metrics, and the stored names of evaluation splits.
#include "tasks/adapter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace istar::tasks {
namespace {

using catalog::TaskKind;

// A classification or regression split of `task` with these labels (or, for STS-B, scores).
TaskData MakeData(Task task, const std::vector<int64_t>& labels,
                  const std::vector<double>& scores = {}) {
  TaskData data{.task = task, .split = Split::kDev, .path = "hand-made"};
  const size_t size = scores.empty() ? labels.size() : scores.size();
  for (size_t i = 0; i < size; ++i) {
    data.classification.push_back({.text_a = "a",
                                   .text_b = "b",
                                   .label = scores.empty() ? labels[i] : -1,
                                   .line = static_cast<int64_t>(i) + 2,
                                   .score = scores.empty() ? 0.0 : scores[i]});
  }
  return data;
}

// Two logits per example whose argmax is `predictions[i]`.
std::vector<double> BinaryLogits(const std::vector<int64_t>& predictions) {
  std::vector<double> logits;
  for (int64_t p : predictions) {
    logits.push_back(p == 0 ? 0.7 : -1.2);
    logits.push_back(p == 1 ? 0.9 : -0.3);
  }
  return logits;
}

TEST(TaskAdapter, ClassificationKindsTakeASequenceHeadWithOneOutputPerLabel) {
  const TaskAdapter sst2 = AdapterOf(Task::kSst2);
  EXPECT_EQ(sst2.kind, TaskKind::kSingleSentence);
  EXPECT_EQ(sst2.head, HeadKind::kSequenceClassification);
  EXPECT_EQ(sst2.num_outputs, 2);
  EXPECT_EQ(sst2.loss, LossKind::kCrossEntropy);
  EXPECT_FALSE(sst2.pairs);
  EXPECT_EQ(AdapterOf(Task::kSst5).num_outputs, 5);
  EXPECT_FALSE(AdapterOf(Task::kCola).pairs);
  const TaskAdapter mnli = AdapterOf(Task::kMnli);
  EXPECT_EQ(mnli.kind, TaskKind::kSentencePair);
  EXPECT_EQ(mnli.head, HeadKind::kSequenceClassification);
  EXPECT_EQ(mnli.num_outputs, 3);
  EXPECT_EQ(mnli.loss, LossKind::kCrossEntropy);
  EXPECT_TRUE(mnli.pairs);
  for (Task task : {Task::kQnli, Task::kMrpc, Task::kQqp, Task::kRte}) {
    EXPECT_EQ(AdapterOf(task).num_outputs, 2) << TaskName(task);
    EXPECT_TRUE(AdapterOf(task).pairs) << TaskName(task);
  }
}

TEST(TaskAdapter, RegressionTakesOneOutputAndMeanSquaredError) {
  const TaskAdapter stsb = AdapterOf(Task::kStsb);
  EXPECT_EQ(stsb.kind, TaskKind::kRegression);
  EXPECT_EQ(stsb.head, HeadKind::kSequenceClassification);
  EXPECT_EQ(stsb.num_outputs, 1);
  EXPECT_EQ(stsb.loss, LossKind::kMeanSquaredError);
  EXPECT_TRUE(stsb.pairs);
}

TEST(TaskAdapter, SpanExtractionTakesAQuestionAnsweringHeadAndTheSpanLoss) {
  const TaskAdapter squad = AdapterOf(Task::kSquad);
  EXPECT_EQ(squad.kind, TaskKind::kSpanExtraction);
  EXPECT_EQ(squad.head, HeadKind::kQuestionAnswering);
  EXPECT_EQ(squad.num_outputs, 2);
  EXPECT_EQ(squad.loss, LossKind::kSpan);
}

TEST(TaskAdapter, DependsOnTheKindAloneForEveryCatalogueRow) {
  for (const catalog::TaskSpec& spec : catalog::Tasks()) {
    const std::optional<Task> task = ParseTask(spec.name);
    ASSERT_TRUE(task.has_value()) << spec.name;
    const TaskAdapter a = AdapterOf(*task);
    const TaskAdapter b = AdapterOf(spec.kind, spec.num_labels());
    EXPECT_EQ(a.kind, spec.kind) << spec.name;
    EXPECT_EQ(a.head, b.head) << spec.name;
    EXPECT_EQ(a.num_outputs, b.num_outputs) << spec.name;
    EXPECT_EQ(a.loss, b.loss) << spec.name;
    EXPECT_EQ(a.pairs, b.pairs) << spec.name;
  }
}

// CoLA, labels [1 1 0 0 1 0], argmax predictions [1 0 0 1 1 0]: TP 2, FN 1, FP 1, TN 2.
// MCC = (2·2 − 1·1) / sqrt(3·3·3·3) = 1/3; accuracy 4/6.
TEST(ScoreSequenceOutputs, ColaLogitsGiveHandComputedMatthewsAndAccuracy) {
  const TaskData data = MakeData(Task::kCola, {1, 1, 0, 0, 1, 0});
  const std::vector<double> logits = BinaryLogits({1, 0, 0, 1, 1, 0});
  absl::StatusOr<Scores> scores = ScoreSequenceOutputs(data, logits);
  ASSERT_TRUE(scores.ok()) << scores.status();
  ASSERT_EQ(scores->values.size(), 2u);
  EXPECT_NEAR(scores->values.at("matthews_corr"), 1.0 / 3.0, 1e-12);
  EXPECT_NEAR(scores->values.at("accuracy"), 4.0 / 6.0, 1e-12);
}

// MRPC with the same table: F1 = 2·TP / (2·TP + FP + FN) = 4/6.
TEST(ScoreSequenceOutputs, MrpcLogitsGiveHandComputedF1AndAccuracy) {
  const TaskData data = MakeData(Task::kMrpc, {1, 1, 0, 0, 1, 0});
  absl::StatusOr<Scores> scores = ScoreSequenceOutputs(data, BinaryLogits({1, 0, 0, 1, 1, 0}));
  ASSERT_TRUE(scores.ok()) << scores.status();
  ASSERT_EQ(scores->values.size(), 2u);
  EXPECT_NEAR(scores->values.at("f1"), 4.0 / 6.0, 1e-12);
  EXPECT_NEAR(scores->values.at("accuracy"), 4.0 / 6.0, 1e-12);
}

// Gold [1 2 3 4], predicted [2 1 4 8]. Pearson: deviations [-1.5 -.5 .5 1.5] and
// [-1.75 -2.75 .25 4.25], Σ products 10.5, Σ squares 5 and 28.75: r = 10.5 / sqrt(143.75).
// Spearman: prediction ranks [2 1 3 4], Σd² = 2, rho = 1 − 6·2 / (4·15) = 0.8.
TEST(ScoreSequenceOutputs, StsbOutputsGiveHandComputedPearsonAndSpearman) {
  const TaskData data = MakeData(Task::kStsb, {}, {1.0, 2.0, 3.0, 4.0});
  absl::StatusOr<Scores> scores = ScoreSequenceOutputs(data, std::vector<double>{2, 1, 4, 8});
  ASSERT_TRUE(scores.ok()) << scores.status();
  ASSERT_EQ(scores->values.size(), 2u);
  EXPECT_NEAR(scores->values.at("pearson"), 10.5 / std::sqrt(143.75), 1e-12);
  EXPECT_NEAR(scores->values.at("spearman"), 0.8, 1e-12);
}

TEST(ScoreSequenceOutputs, ArgmaxTakesTheFirstOfEqualMaximaAndCountsNanAsTheMaximum) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // MNLI rows: a tie between 1 and 2 (-> 1), a clear 2, a NaN at 0 (-> 0).
  const TaskData data = MakeData(Task::kMnli, {1, 2, 0});
  const std::vector<double> logits = {0.1, 0.5, 0.5, -1, 0, 3, nan, 9, 9};
  absl::StatusOr<Scores> scores = ScoreSequenceOutputs(data, logits);
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_DOUBLE_EQ(scores->values.at("accuracy"), 1.0);
}

TEST(ScoreSequenceOutputs, WrongSizeOrSpanTaskIsInvalidArgument) {
  const TaskData mnli = MakeData(Task::kMnli, {0, 1});
  EXPECT_EQ(ScoreSequenceOutputs(mnli, std::vector<double>(4, 0.0)).status().code(),
            absl::StatusCode::kInvalidArgument);  // 2 examples x 3 outputs expected
  const TaskData squad{.task = Task::kSquad};
  EXPECT_EQ(ScoreSequenceOutputs(squad, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(StoredSplitName, DevIsValidationAndOtherDevSplitsKeepTheirSuffix) {
  EXPECT_EQ(StoredSplitName("dev"), "validation");
  EXPECT_EQ(StoredSplitName("dev_mismatched"), "validation_mismatched");
  EXPECT_EQ(StoredSplitName("test"), "test");
  // Every task's first evaluation split is what `istar compare` reads by default.
  for (const catalog::TaskSpec& spec : catalog::Tasks()) {
    ASSERT_FALSE(spec.eval_splits.empty()) << spec.name;
    EXPECT_EQ(StoredSplitName(spec.eval_splits[0]), "validation") << spec.name;
  }
}

}  // namespace
}  // namespace istar::tasks

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tasks/task.h"

namespace istar::tasks {
namespace {

using ::testing::HasSubstr;

TEST(Accuracy, CountsMatchingPositions) {
  const std::vector<int64_t> predictions = {0, 1, 1, 0};
  const std::vector<int64_t> labels = {0, 1, 0, 0};
  EXPECT_DOUBLE_EQ(Accuracy(predictions, labels), 0.75);
  EXPECT_DOUBLE_EQ(Accuracy({}, {}), 0.0);
}

TEST(AccuracyDeathTest, DifferentSizesAreABug) {
  const std::vector<int64_t> predictions = {0, 1};
  const std::vector<int64_t> labels = {0};
  EXPECT_DEATH(Accuracy(predictions, labels), "Check failed");
}

TEST(NormalizeAnswer, FollowsTheOfficialRules) {
  EXPECT_EQ(NormalizeAnswer("The  Cat's hat!"), "cats hat");
  EXPECT_EQ(NormalizeAnswer("  an Apple a day "), "apple day");
  EXPECT_EQ(NormalizeAnswer("Theater, anthem"), "theater anthem");  // only whole words go
  EXPECT_EQ(NormalizeAnswer("the"), "");
  EXPECT_EQ(NormalizeAnswer("A-B"), "ab");  // punctuation goes before articles are looked for
  EXPECT_EQ(NormalizeAnswer("Denver\tBroncos\n"), "denver broncos");
  EXPECT_EQ(NormalizeAnswer("1,000 (est.)"), "1000 est");
}

TEST(NormalizeAnswer, LowerCasesAndSplitsBeyondAscii) {
  EXPECT_EQ(NormalizeAnswer("ÜBER Café"), "über café");
  EXPECT_EQ(NormalizeAnswer("a\u00a0b"), "b");         // NBSP is whitespace: "a" stands alone
  EXPECT_EQ(NormalizeAnswer("éa the"), "éa");          // é is a word character: "éa" is one word
  EXPECT_EQ(NormalizeAnswer("“the” end"), "“ ” end");  // curly quotes are not string.punctuation
}

TEST(ExactMatch, ComparesNormalisedStrings) {
  EXPECT_EQ(ExactMatch("the Denver Broncos", "Denver Broncos!"), 1.0);
  EXPECT_EQ(ExactMatch("Denver", "Denver Broncos"), 0.0);
  EXPECT_EQ(ExactMatch("", "the"), 1.0);  // both normalise to ""
}

TEST(F1, IsTheHarmonicMeanOfTokenPrecisionAndRecall) {
  // pred {denver, broncos, team}, gold {denver, broncos}: P = 2/3, R = 1, F1 = 0.8.
  EXPECT_DOUBLE_EQ(F1("the Denver Broncos team", "Denver Broncos"), 0.8);
  // pred {a b c d} vs gold {c d e}: 2 common, P = 1/2, R = 2/3, F1 = 4/7.
  EXPECT_DOUBLE_EQ(F1("x y c d", "c d e"), 4.0 / 7.0);
  EXPECT_DOUBLE_EQ(F1("Santa Clara", "Santa Clara, California"), 0.8);
  EXPECT_DOUBLE_EQ(F1("nothing", "in common"), 0.0);
  EXPECT_DOUBLE_EQ(F1("", "anything"), 0.0);
  EXPECT_DOUBLE_EQ(F1("", "the"), 0.0);  // the official script gives 0 when nothing is shared
}

TEST(F1, CountsRepeatedTokensWithMultiplicity) {
  // pred {x, x, x}, gold {x, y}: one common x. P = 1/3, R = 1/2, F1 = 0.4.
  EXPECT_DOUBLE_EQ(F1("x x x", "x y"), 0.4);
}

TEST(ScoreSquad, TakesTheBestGoldAnswerAndAveragesOverAllQuestions) {
  TaskData data{.task = Task::kSquad};
  data.squad.push_back({"q1", "?", "ctx", {{"Denver Broncos", 0}, {"the Broncos", 0}}});
  data.squad.push_back({"q2", "?", "ctx", {{"Santa Clara, California", 0}}});
  data.squad.push_back({"q3", "?", "ctx", {{"Levi's Stadium", 0}}});  // unanswered: 0
  absl::StatusOr<Scores> scores =
      ScoreSquad(data, {{"q1", "Broncos"}, {"q2", "Santa Clara"}, {"unknown", "x"}});
  ASSERT_TRUE(scores.ok()) << scores.status();
  // q1: EM 1 via "the Broncos"; q2: EM 0, F1 0.8; q3: 0.
  EXPECT_DOUBLE_EQ(scores->values.at("exact_match"), 100.0 / 3.0);
  EXPECT_DOUBLE_EQ(scores->values.at("f1"), 100.0 * 1.8 / 3.0);
}

TEST(ScoreSquad, RejectsClassificationData) {
  TaskData data{.task = Task::kSst2};
  EXPECT_EQ(ScoreSquad(data, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ScoreClassification, GivesAccuracyAsAFraction) {
  TaskData data{.task = Task::kSst2};
  data.classification = {{"a", "", 1, 2}, {"b", "", 0, 3}};
  const std::vector<int64_t> predictions = {1, 1};
  absl::StatusOr<Scores> scores = ScoreClassification(data, predictions);
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_DOUBLE_EQ(scores->values.at("accuracy"), 0.5);
  const std::vector<int64_t> too_few = {1};
  EXPECT_EQ(ScoreClassification(data, too_few).status().code(), absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// The GLUE metrics. One 2x2 table serves MCC and F1 (class 1 positive):
//
//                label 1   label 0
//   predicted 1  TP = 3    FP = 1
//   predicted 0  FN = 2    TN = 4
const std::vector<int64_t> kTablePredictions = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
const std::vector<int64_t> kTableLabels = {1, 1, 1, 0, 1, 1, 0, 0, 0, 0};

TEST(MatthewsCorrelation, MatchesTheTableComputedByHand) {
  // (TP TN - FP FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (12 - 2) / sqrt(4 * 5 * 5 * 6)
  //   = 10 / sqrt(600) = 1 / sqrt(6) = 0.408248290463863.
  EXPECT_NEAR(MatthewsCorrelation(kTablePredictions, kTableLabels), 0.408248290463863, 1e-12);
  // Swapping predictions and labels swaps FP and FN: the same value.
  EXPECT_NEAR(MatthewsCorrelation(kTableLabels, kTablePredictions), 0.408248290463863, 1e-12);
}

TEST(MatthewsCorrelation, IsOneMinusOneAndZeroWhenUndefined) {
  const std::vector<int64_t> labels = {0, 1, 1, 0};
  const std::vector<int64_t> inverse = {1, 0, 0, 1};
  const std::vector<int64_t> all_ones = {1, 1, 1, 1};
  EXPECT_DOUBLE_EQ(MatthewsCorrelation(labels, labels), 1.0);
  EXPECT_DOUBLE_EQ(MatthewsCorrelation(inverse, labels), -1.0);
  // One predicted class: TN + FN = 0, the denominator is 0; scikit-learn returns 0.
  EXPECT_DOUBLE_EQ(MatthewsCorrelation(all_ones, labels), 0.0);
  EXPECT_DOUBLE_EQ(MatthewsCorrelation(labels, all_ones), 0.0);  // one gold class
  EXPECT_DOUBLE_EQ(MatthewsCorrelation({}, {}), 0.0);
}

TEST(BinaryF1, MatchesTheTableComputedByHand) {
  // P = TP / (TP + FP) = 3/4, R = TP / (TP + FN) = 3/5,
  // F1 = 2 P R / (P + R) = 2 * 0.45 / 1.35 = 2/3 (= 2 TP / (2 TP + FP + FN) = 6 / 9).
  EXPECT_DOUBLE_EQ(BinaryF1(kTablePredictions, kTableLabels), 2.0 / 3.0);
  // Predicting class 1 everywhere: P = 5/10, R = 1, F1 = 2 * 0.5 / 1.5 = 2/3 as well; all 0:
  // TP = 0, so F1 = 0.
  const std::vector<int64_t> ones(10, 1);
  const std::vector<int64_t> zeros(10, 0);
  EXPECT_DOUBLE_EQ(BinaryF1(ones, kTableLabels), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(BinaryF1(zeros, kTableLabels), 0.0);
  EXPECT_DOUBLE_EQ(BinaryF1(zeros, zeros), 0.0);  // no positives at all: 0, not NaN
}

TEST(BinaryMetricsDeathTest, ValuesOtherThanZeroAndOneAreABug) {
  const std::vector<int64_t> predictions = {0, 2};
  const std::vector<int64_t> labels = {0, 1};
  EXPECT_DEATH(MatthewsCorrelation(predictions, labels), "binary metrics need 0 or 1");
  EXPECT_DEATH(BinaryF1(labels, predictions), "binary metrics need 0 or 1");
}

TEST(PearsonCorrelation, MatchesAHandComputedValue) {
  // x = [1, 2, 3, 4], y = [2, 4, 5, 9]: means 2.5 and 5; deviations [-1.5, -0.5, 0.5, 1.5] and
  // [-3, -1, 0, 4]; sum dx dy = 4.5 + 0.5 + 0 + 6 = 11, sum dx^2 = 5, sum dy^2 = 26;
  // r = 11 / sqrt(130) = 0.964763821238…
  const std::vector<double> x = {1, 2, 3, 4};
  const std::vector<double> y = {2, 4, 5, 9};
  EXPECT_NEAR(PearsonCorrelation(x, y), 11.0 / std::sqrt(130.0), 1e-15);
  EXPECT_NEAR(PearsonCorrelation(x, y), 0.964763821238, 1e-12);
  // Invariant under positive affine maps, negated by a negative one.
  const std::vector<double> y_scaled = {-1, -5, -7, -15};  // -2 y + 3
  EXPECT_NEAR(PearsonCorrelation(x, y_scaled), -11.0 / std::sqrt(130.0), 1e-15);
}

TEST(PearsonCorrelation, IsZeroWhenUndefinedAndNanForNonFiniteInput) {
  const std::vector<double> x = {1, 2, 3};
  // Three 0.1: the mean is 0.10000000000000002, so a variance test would see a tiny non-zero
  // spread; the value test sees a constant.
  const std::vector<double> constant = {0.1, 0.1, 0.1};
  EXPECT_DOUBLE_EQ(PearsonCorrelation(x, constant), 0.0);
  EXPECT_DOUBLE_EQ(PearsonCorrelation(constant, x), 0.0);
  const std::vector<double> one = {1};
  EXPECT_DOUBLE_EQ(PearsonCorrelation(one, one), 0.0);
  EXPECT_DOUBLE_EQ(PearsonCorrelation({}, {}), 0.0);
  const std::vector<double> nan = {1, std::nan(""), 3};
  EXPECT_TRUE(std::isnan(PearsonCorrelation(x, nan)));
  EXPECT_TRUE(std::isnan(SpearmanCorrelation(nan, x)));
}

TEST(SpearmanCorrelation, GivesTiesTheMeanOfTheirRanks) {
  // x = [1, 2, 2, 3] -> ranks [1, 2.5, 2.5, 4] (the tied 2s share ranks 2 and 3);
  // y = [1, 3, 2, 4] -> ranks [1, 3, 2, 4]. Both rank means are 2.5; deviations
  // [-1.5, 0, 0, 1.5] and [-1.5, 0.5, -0.5, 1.5]: sum products 4.5, sums of squares 4.5 and 5;
  // rho = 4.5 / sqrt(22.5) = sqrt(0.9) = 0.948683298050514.
  // (The no-ties shortcut 1 - 6 sum d^2 / (n (n^2 - 1)) would give 1 - 6 * 0.5 / 60 = 0.95.)
  const std::vector<double> x = {1, 2, 2, 3};
  const std::vector<double> y = {1, 3, 2, 4};
  EXPECT_NEAR(SpearmanCorrelation(x, y), 0.948683298050514, 1e-12);
  // Ties on both sides: x ranks [1, 2.5, 2.5, 4], y = [5, 5, 6, 7] ranks [1.5, 1.5, 3, 4];
  // deviations [-1.5, 0, 0, 1.5] and [-1, -1, 0.5, 1.5]: sum products 1.5 + 2.25 = 3.75,
  // sums of squares 4.5 and 4.5; rho = 3.75 / 4.5 = 5/6.
  const std::vector<double> y_tied = {5, 5, 6, 7};
  EXPECT_NEAR(SpearmanCorrelation(x, y_tied), 5.0 / 6.0, 1e-12);
  // Any strictly increasing map of the values leaves rho unchanged (ranks only).
  const std::vector<double> y_cubed = {1, 27, 8, 64};
  EXPECT_NEAR(SpearmanCorrelation(x, y_cubed), 0.948683298050514, 1e-12);
  const std::vector<double> x_constant = {2, 2, 2, 2};
  EXPECT_DOUBLE_EQ(SpearmanCorrelation(x_constant, y), 0.0);
}

TEST(ScoreClassification, ReportsTheCatalogueMetricsOfEachTask) {
  TaskData cola{.task = Task::kCola, .path = "cola/dev.tsv"};
  for (int64_t label : kTableLabels) cola.classification.push_back({"s", "", label, 1});
  absl::StatusOr<Scores> scores = ScoreClassification(cola, kTablePredictions);
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_EQ(scores->values.size(), 2u);
  EXPECT_NEAR(scores->values.at("matthews_corr"), 0.408248290463863, 1e-12);
  EXPECT_DOUBLE_EQ(scores->values.at("accuracy"), 0.7);  // (TP + TN) / 10

  TaskData mrpc = cola;
  mrpc.task = Task::kMrpc;
  scores = ScoreClassification(mrpc, kTablePredictions);
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_EQ(scores->values.size(), 2u);
  EXPECT_DOUBLE_EQ(scores->values.at("f1"), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(scores->values.at("accuracy"), 0.7);

  TaskData mnli{.task = Task::kMnli};
  mnli.classification = {{"p", "h", 0, 2}, {"p", "h", 2, 3}, {"p", "h", 1, 4}};
  const std::vector<int64_t> mnli_predictions = {0, 2, 2};
  scores = ScoreClassification(mnli, mnli_predictions);
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_EQ(scores->values.size(), 1u);
  EXPECT_DOUBLE_EQ(scores->values.at("accuracy"), 2.0 / 3.0);
}

TEST(ScoreClassification, RejectsPredictionsOutsideTheLabelsAndRegressionData) {
  TaskData rte{.task = Task::kRte, .path = "rte/dev.tsv"};
  rte.classification = {{"a", "b", 0, 2}, {"a", "b", 1, 3}};
  const std::vector<int64_t> three = {0, 2};
  absl::Status status = ScoreClassification(rte, three).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      status.message(),
      HasSubstr("prediction 2 for example 1 of rte/dev.tsv is not a label of rte (0 .. 1)"));
  TaskData stsb{.task = Task::kStsb};
  EXPECT_THAT(ScoreClassification(stsb, {}).status().message(),
              HasSubstr("needs a classification task, got stsb (regression)"));
}

TEST(ScoreRegression, GivesPearsonAndSpearmanAgainstTheGoldScores) {
  TaskData stsb{.task = Task::kStsb, .path = "stsb/dev.tsv"};
  for (double score : {1.0, 2.0, 2.0, 3.0}) stsb.classification.push_back({"a", "b", -1, 1, score});
  // Predictions [1, 3, 2, 6] against gold [1, 2, 2, 3]. Spearman: prediction ranks [1, 3, 2, 4],
  // gold ranks [1, 2.5, 2.5, 4]: sqrt(0.9), as in GivesTiesTheMeanOfTheirRanks. Pearson: means 3
  // and 2, deviations [-2, 0, -1, 3] and [-1, 0, 0, 1]: sum products 2 + 3 = 5, sums of squares
  // 14 and 2, r = 5 / sqrt(28) = 0.944911182523068.
  const std::vector<double> predictions = {1, 3, 2, 6};
  absl::StatusOr<Scores> scores = ScoreRegression(stsb, predictions);
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_EQ(scores->values.size(), 2u);
  EXPECT_NEAR(scores->values.at("pearson"), 0.944911182523068, 1e-12);
  EXPECT_NEAR(scores->values.at("spearman"), std::sqrt(0.9), 1e-12);
  const std::vector<double> too_few = {1};
  EXPECT_EQ(ScoreRegression(stsb, too_few).status().code(), absl::StatusCode::kInvalidArgument);
  TaskData sst2{.task = Task::kSst2};
  EXPECT_THAT(ScoreRegression(sst2, {}).status().message(),
              HasSubstr("needs a regression task, got sst2 (single-sentence)"));
}

}  // namespace
}  // namespace istar::tasks

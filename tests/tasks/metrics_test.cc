#include <gtest/gtest.h>

#include <vector>

#include "tasks/task.h"

namespace istar::tasks {
namespace {

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

}  // namespace
}  // namespace istar::tasks

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "tasks/task.h"
#include "tests/tasks/test_util.h"

namespace istar::tasks {
namespace {

using ::istar::tasks::testing::TempFolder;

std::string Contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(DemoSentiment, WritesSst2FilesThatReadBackBalanced) {
  TempFolder folder;
  ASSERT_TRUE(WriteDemoSentimentTask(folder.path() + "/sent", {.seed = 7}).ok());
  absl::StatusOr<TaskData> train =
      ReadTaskData(Task::kSst2, folder.path() + "/sent", Split::kTrain);
  absl::StatusOr<TaskData> dev = ReadTaskData(Task::kSst2, folder.path() + "/sent", Split::kDev);
  ASSERT_TRUE(train.ok()) << train.status();
  ASSERT_TRUE(dev.ok()) << dev.status();
  EXPECT_EQ(train->classification.size(), 2000u);
  EXPECT_EQ(dev->classification.size(), 200u);
  int64_t positive = 0;
  for (const ClassificationExample& example : train->classification) positive += example.label;
  EXPECT_GT(positive, 900);
  EXPECT_LT(positive, 1100);
}

TEST(DemoSentiment, SameSeedSameFilesAndExamplesDoNotDependOnSize) {
  TempFolder folder;
  ASSERT_TRUE(WriteDemoSentimentTask(folder.path() + "/a", {.seed = 3}).ok());
  ASSERT_TRUE(WriteDemoSentimentTask(folder.path() + "/b", {.seed = 3}).ok());
  ASSERT_TRUE(WriteDemoSentimentTask(folder.path() + "/c", {.seed = 4}).ok());
  ASSERT_TRUE(WriteDemoSentimentTask(folder.path() + "/d", {.seed = 3, .train_examples = 10}).ok());
  const std::string a = Contents(folder.path() + "/a/train.tsv");
  EXPECT_EQ(a, Contents(folder.path() + "/b/train.tsv"));
  EXPECT_NE(a, Contents(folder.path() + "/c/train.tsv"));
  EXPECT_TRUE(a.starts_with(Contents(folder.path() + "/d/train.tsv")));
  EXPECT_NE(a, Contents(folder.path() + "/a/dev.tsv"));
}

TEST(DemoSentiment, NegativeSizeIsInvalidArgument) {
  TempFolder folder;
  EXPECT_EQ(WriteDemoSentimentTask(folder.path(), {.train_examples = -1}).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(DemoVocab, CoversBothDemoTasksWithoutUnknownTokens) {
  TempFolder folder;
  const std::string vocab = folder.path() + "/vocab.txt";
  ASSERT_TRUE(WriteDemoVocab(vocab).ok());
  ASSERT_TRUE(WriteDemoSentimentTask(folder.path(), {.train_examples = 300}).ok());
  ASSERT_TRUE(WriteDemoQaTask(folder.path(), {.train_examples = 100}).ok());
  absl::StatusOr<std::unique_ptr<tokenizers::Tokenizer>> tokenizer =
      tokenizers::LoadWordPieceVocab(vocab);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->pad_id(), 0);
  EXPECT_EQ((*tokenizer)->unk_id(), 1);
  EXPECT_EQ((*tokenizer)->mask_id(), 4);
  auto sentiment = ReadTaskData(Task::kSst2, folder.path(), Split::kTrain);
  auto qa = ReadTaskData(Task::kSquad, folder.path(), Split::kTrain);
  ASSERT_TRUE(sentiment.ok() && qa.ok());
  for (const auto* data : {&*sentiment, &*qa}) {
    absl::StatusOr<std::vector<Feature>> features = BuildFeatures(*data, **tokenizer, {});
    ASSERT_TRUE(features.ok()) << features.status();
    for (const Feature& feature : *features) {
      for (int32_t id : feature.input_ids) ASSERT_NE(id, (*tokenizer)->unk_id());
    }
  }
}

TEST(DemoQa, AnswersAreSpansOfTheirContextAndDeterministic) {
  TempFolder folder;
  ASSERT_TRUE(WriteDemoQaTask(folder.path() + "/a", {.seed = 5, .train_examples = 50}).ok());
  ASSERT_TRUE(WriteDemoQaTask(folder.path() + "/b", {.seed = 5, .train_examples = 50}).ok());
  EXPECT_EQ(Contents(folder.path() + "/a/train-v1.1.json"),
            Contents(folder.path() + "/b/train-v1.1.json"));
  absl::StatusOr<TaskData> train = ReadTaskData(Task::kSquad, folder.path() + "/a", Split::kTrain);
  ASSERT_TRUE(train.ok()) << train.status();
  ASSERT_EQ(train->squad.size(), 50u);
  std::map<std::string, int> ids;
  for (const SquadExample& example : train->squad) {
    ASSERT_EQ(example.answers.size(), 1u);
    const SquadAnswer& answer = example.answers[0];
    EXPECT_EQ(example.context.substr(answer.start, answer.text.size()), answer.text);
    ++ids[example.id];
  }
  EXPECT_EQ(ids.size(), 50u);
  absl::StatusOr<TaskData> dev = ReadTaskData(Task::kSquad, folder.path() + "/a", Split::kDev);
  ASSERT_TRUE(dev.ok()) << dev.status();
  EXPECT_EQ(dev->squad.size(), 200u);
}

}  // namespace
}  // namespace istar::tasks

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tasks/internal/demo_words.h"
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

TEST(DemoSentiment, DefaultsWriteThePlainTaskOfEarlierReleases) {
  TempFolder folder;
  ASSERT_TRUE(WriteDemoSentimentTask(folder.path() + "/sent", {.seed = 1}).ok());
  // The first rows of seed 1 as istar wrote them before the difficulty options existed.
  EXPECT_TRUE(Contents(folder.path() + "/sent/train.tsv")
                  .starts_with("sentence\tlabel\n"
                               "the director 's work was gripping and touching \t1\n"
                               "this story felt delightful and moving \t1\n"
                               "the film was messy and lifeless \t0\n"));
}

// The label a reader of the sentence gives it, from the word lists: the polarity of the clause
// after "but", the opposite of a word after "not", else the polarity of any sentiment word.
int ReadersLabel(const std::string& sentence) {
  std::vector<std::string> words;
  std::istringstream in(sentence);
  for (std::string word; in >> word;) words.push_back(word);
  const auto polarity = [](const std::string& word) {
    for (std::string_view w : internal::kPositiveWords) {
      if (w == word) return 1;
    }
    for (std::string_view w : internal::kNegativeWords) {
      if (w == word) return 0;
    }
    return -1;
  };
  int label = -1;
  for (size_t i = 0; i < words.size(); ++i) {
    const int p = polarity(words[i]);
    if (p < 0) continue;
    const bool negated = i > 0 && words[i - 1] == "not";
    label = negated ? 1 - p : p;  // the last sentiment word wins: the one after "but"
  }
  return label;
}

TEST(DemoSentiment, ContrastAndNoiseMakeTheTaskHardInTheirStatedShares) {
  TempFolder folder;
  ASSERT_TRUE(WriteDemoSentimentTask(folder.path() + "/hard",
                                     {.seed = 7, .contrast_fraction = 0.3, .label_noise = 0.1})
                  .ok());
  int64_t total = 0;
  int64_t agree = 0;
  int64_t contrast = 0;
  for (const Split split : {Split::kTrain, Split::kDev}) {
    absl::StatusOr<TaskData> data = ReadTaskData(Task::kSst2, folder.path() + "/hard", split);
    ASSERT_TRUE(data.ok()) << data.status();
    for (const ClassificationExample& example : data->classification) {
      const int label = ReadersLabel(example.text_a);
      ASSERT_GE(label, 0) << example.text_a;
      ++total;
      agree += label == example.label;
      // Words of both polarities, or a negation.
      const bool negated = example.text_a.find(" not ") != std::string::npos;
      const size_t but = example.text_a.find(" but ");
      const bool mixed = but != std::string::npos &&
                         ReadersLabel(example.text_a.substr(0, but)) >= 0 &&
                         ReadersLabel(example.text_a.substr(0, but)) !=
                             ReadersLabel(example.text_a.substr(but + 5));
      contrast += negated || mixed;
    }
  }
  ASSERT_EQ(total, 2200);
  // Binomial shares over 2,200 examples: standard deviations 0.006 (noise) and 0.01 (contrast);
  // the bounds are about 4 of them.
  EXPECT_NEAR(static_cast<double>(agree) / total, 0.9, 0.025);
  EXPECT_NEAR(static_cast<double>(contrast) / total, 0.3, 0.04);
}

TEST(DemoSentiment, AFractionOutsideZeroToOneIsInvalidArgument) {
  TempFolder folder;
  EXPECT_EQ(WriteDemoSentimentTask(folder.path(), {.label_noise = 1.5}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteDemoSentimentTask(folder.path(), {.contrast_fraction = -0.1}).code(),
            absl::StatusCode::kInvalidArgument);
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

// Every GLUE demo reads back with the task's own reader, every evaluation split included, with
// both classes (or the whole score range) present.
TEST(DemoGlue, EveryTaskReadsBackWithItsReaderInEverySplit) {
  TempFolder folder;
  for (Task task : {Task::kCola, Task::kMrpc, Task::kQqp, Task::kRte, Task::kStsb, Task::kMnli}) {
    const std::string dir = folder.path() + "/" + std::string(TaskName(task));
    ASSERT_TRUE(
        WriteDemoGlueTask(task, dir, {.seed = 2, .train_examples = 90, .dev_examples = 30}).ok())
        << TaskName(task);
    absl::StatusOr<TaskData> train = ReadTaskData(task, dir, Split::kTrain);
    ASSERT_TRUE(train.ok()) << train.status();
    EXPECT_EQ(train->classification.size(), 90u) << TaskName(task);
    EXPECT_TRUE(train->skipped_lines.empty()) << TaskName(task);
    std::map<int64_t, int> labels;
    double low = 5;
    double high = 0;
    for (const ClassificationExample& example : train->classification) {
      ++labels[example.label];
      low = std::min(low, example.score);
      high = std::max(high, example.score);
      EXPECT_EQ(example.text_b.empty(), task == Task::kCola) << TaskName(task);
    }
    if (task == Task::kStsb) {
      EXPECT_EQ(labels.size(), 1u);  // -1: regression
      EXPECT_LE(low, 1.0);
      EXPECT_GE(high, 4.0);
    } else {
      EXPECT_EQ(static_cast<int64_t>(labels.size()), NumLabels(task)) << TaskName(task);
    }
    for (std::string_view split : TaskSpecOf(task).eval_splits) {
      absl::StatusOr<TaskData> eval = ReadEvalSplit(task, dir, split);
      ASSERT_TRUE(eval.ok()) << eval.status();
      EXPECT_EQ(eval->classification.size(), 30u) << TaskName(task) << " " << split;
    }
  }
  EXPECT_NE(Contents(folder.path() + "/mnli/dev_matched.tsv"),
            Contents(folder.path() + "/mnli/dev_mismatched.tsv"));
}

TEST(DemoGlue, SameSeedSameFilesAndOtherTasksAreInvalidArgument) {
  TempFolder folder;
  ASSERT_TRUE(WriteDemoGlueTask(Task::kStsb, folder.path() + "/a", {.seed = 3}).ok());
  ASSERT_TRUE(WriteDemoGlueTask(Task::kStsb, folder.path() + "/b", {.seed = 3}).ok());
  EXPECT_EQ(Contents(folder.path() + "/a/train.tsv"), Contents(folder.path() + "/b/train.tsv"));
  EXPECT_EQ(WriteDemoGlueTask(Task::kSquad, folder.path() + "/c").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteDemoGlueTask(Task::kMnli, folder.path() + "/d", {.dev_examples = -1}).code(),
            absl::StatusCode::kInvalidArgument);
}

// The features of every pair task hold both texts ([CLS] a [SEP] b [SEP], token types 0 then 1)
// and STS-B's carry the gold score; the demo vocabulary covers every GLUE demo.
TEST(DemoGlue, FeaturesEncodePairsAndCarryTheRegressionScore) {
  TempFolder folder;
  const std::string vocab = folder.path() + "/vocab.txt";
  ASSERT_TRUE(WriteDemoVocab(vocab).ok());
  absl::StatusOr<std::unique_ptr<tokenizers::Tokenizer>> tokenizer =
      tokenizers::LoadWordPieceVocab(vocab);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  for (Task task : {Task::kCola, Task::kMrpc, Task::kQqp, Task::kRte, Task::kStsb, Task::kMnli}) {
    const std::string dir = folder.path() + "/" + std::string(TaskName(task));
    ASSERT_TRUE(WriteDemoGlueTask(task, dir, {.train_examples = 20, .dev_examples = 5}).ok());
    absl::StatusOr<TaskData> data = ReadTaskData(task, dir, Split::kTrain);
    ASSERT_TRUE(data.ok()) << data.status();
    absl::StatusOr<std::vector<Feature>> features =
        BuildFeatures(*data, **tokenizer, {.max_seq_length = 64});
    ASSERT_TRUE(features.ok()) << features.status();
    ASSERT_EQ(features->size(), data->classification.size());
    for (size_t i = 0; i < features->size(); ++i) {
      const Feature& feature = (*features)[i];
      int separators = 0;
      for (int32_t id : feature.input_ids) {
        ASSERT_NE(id, (*tokenizer)->unk_id()) << TaskName(task);
        separators += id == 3 ? 1 : 0;  // [SEP]
      }
      const bool pair = task != Task::kCola;
      EXPECT_EQ(separators, pair ? 2 : 1) << TaskName(task);
      EXPECT_EQ(feature.token_type_ids.back(), pair ? 1 : 0) << TaskName(task);
      EXPECT_EQ(feature.label, data->classification[i].label) << TaskName(task);
      EXPECT_EQ(feature.score, data->classification[i].score) << TaskName(task);
    }
  }
}

}  // namespace
}  // namespace istar::tasks

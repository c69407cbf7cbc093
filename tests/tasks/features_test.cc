#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "tasks/task.h"
#include "tests/tasks/test_util.h"

namespace istar::tasks {
namespace {

using ::istar::tasks::testing::TempFolder;

// The demo vocabulary: no shared data needed.
std::unique_ptr<tokenizers::Tokenizer> DemoTokenizer(const TempFolder& folder) {
  const std::string path = folder.path() + "/vocab.txt";
  EXPECT_TRUE(WriteDemoVocab(path).ok());
  absl::StatusOr<std::unique_ptr<tokenizers::Tokenizer>> tokenizer =
      tokenizers::LoadWordPieceVocab(path);
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return tokenizer.ok() ? std::move(*tokenizer) : nullptr;
}

// A SQuAD example whose context is `sentences` demo sentences; the answer is the city of
// sentence `answer_sentence`.
SquadExample LongExample(int sentences, int answer_sentence) {
  SquadExample example{.id = "long", .question = "where does anna live ?"};
  for (int i = 0; i < sentences; ++i) {
    if (i == answer_sentence) {
      example.answers.push_back({"paris", static_cast<int64_t>(example.context.size()) + 14});
      absl::StrAppend(&example.context, "anna lives in paris . ");
    } else {
      absl::StrAppend(&example.context, "ben works as a baker . ");
    }
  }
  return example;
}

TEST(ClassificationFeatures, EncodesSinglesAndPairsWithLabels) {
  TempFolder folder;
  auto tokenizer = DemoTokenizer(folder);
  ASSERT_NE(tokenizer, nullptr);
  TaskData single{.task = Task::kSst2};
  single.classification = {{"the film was superb", "", 1, 2}};
  absl::StatusOr<std::vector<Feature>> features = BuildFeatures(single, *tokenizer, {});
  ASSERT_TRUE(features.ok()) << features.status();
  ASSERT_EQ(features->size(), 1u);
  const Feature& feature = features->front();
  EXPECT_EQ(feature.input_ids.size(), 6u);  // [CLS] 4 words [SEP]
  EXPECT_EQ(feature.input_ids.front(), tokenizer->cls_id());
  EXPECT_EQ(feature.label, 1);
  EXPECT_TRUE(feature.context_offsets.empty());

  TaskData pair{.task = Task::kQnli};
  pair.classification = {{"who is anna ?", "anna works as a baker . anna lives in rome .", 0, 2}};
  features = BuildFeatures(pair, *tokenizer, {.max_seq_length = 10});
  ASSERT_TRUE(features.ok()) << features.status();
  const Feature& truncated = features->front();
  EXPECT_EQ(truncated.input_ids.size(), 10u);
  EXPECT_EQ(truncated.token_type_ids.back(), 1);  // the second text kept some tokens
  EXPECT_EQ(truncated.token_type_ids.front(), 0);
}

TEST(ClassificationFeatures, GlueTasksEncodeByKindAndCarryTheRegressionScore) {
  TempFolder folder;
  auto tokenizer = DemoTokenizer(folder);
  ASSERT_NE(tokenizer, nullptr);
  // STS-B: a pair, label -1, the score as the target.
  TaskData stsb{.task = Task::kStsb};
  stsb.classification = {{"the film was superb", "the plot was superb", -1, 2, 3.8}};
  absl::StatusOr<std::vector<Feature>> features = BuildFeatures(stsb, *tokenizer, {});
  ASSERT_TRUE(features.ok()) << features.status();
  ASSERT_EQ(features->size(), 1u);
  EXPECT_EQ(features->front().input_ids.size(), 11u);  // [CLS] 4 words [SEP] 4 words [SEP]
  EXPECT_EQ(features->front().token_type_ids.back(), 1);
  EXPECT_EQ(features->front().label, -1);
  EXPECT_DOUBLE_EQ(features->front().score, 3.8);
  // MNLI: a pair; CoLA: one sentence (its empty text_b is not encoded).
  TaskData mnli{.task = Task::kMnli};
  mnli.classification = {{"the film was superb", "the film was long", 2, 2}};
  features = BuildFeatures(mnli, *tokenizer, {});
  ASSERT_TRUE(features.ok()) << features.status();
  EXPECT_EQ(features->front().input_ids.size(), 11u);
  EXPECT_EQ(features->front().label, 2);
  EXPECT_DOUBLE_EQ(features->front().score, 0.0);
  TaskData cola{.task = Task::kCola};
  cola.classification = {{"the film was superb", "", 1, 1}};
  features = BuildFeatures(cola, *tokenizer, {});
  ASSERT_TRUE(features.ok()) << features.status();
  EXPECT_EQ(features->front().input_ids.size(), 6u);  // [CLS] 4 words [SEP]
  EXPECT_EQ(features->front().token_type_ids.back(), 0);
}
TEST(SquadFeatures, ConsecutiveWindowsOverlapByDocStride) {
  TempFolder folder;
  auto tokenizer = DemoTokenizer(folder);
  ASSERT_NE(tokenizer, nullptr);
  TaskData data{.task = Task::kSquad};
  data.squad.push_back(LongExample(40, 25));
  const EncodeSettings settings{.max_seq_length = 48, .doc_stride = 12, .max_query_length = 8};
  absl::StatusOr<std::vector<Feature>> features = BuildFeatures(data, *tokenizer, settings);
  ASSERT_TRUE(features.ok()) << features.status();
  ASSERT_GT(features->size(), 3u);
  const auto context_part = [](const Feature& feature) {
    std::vector<std::pair<int64_t, int64_t>> offsets;
    for (const auto& range : feature.context_offsets) {
      if (range.first >= 0) offsets.push_back(range);
    }
    return offsets;
  };
  for (size_t i = 0; i < features->size(); ++i) {
    EXPECT_LE((*features)[i].input_ids.size(), 48u);
    EXPECT_EQ((*features)[i].input_ids.size(), (*features)[i].context_offsets.size());
    if (i + 1 == features->size()) break;
    const auto current = context_part((*features)[i]);
    const auto next = context_part((*features)[i + 1]);
    ASSERT_GE(current.size(), 12u);
    const std::vector<std::pair<int64_t, int64_t>> tail(current.end() - 12, current.end());
    const std::vector<std::pair<int64_t, int64_t>> head(next.begin(), next.begin() + 12);
    EXPECT_EQ(tail, head) << "window " << i;
  }
  EXPECT_EQ(context_part(features->back()).back().second,
            static_cast<int64_t>(data.squad[0].context.size()) - 1);  // the final space is no token
}

TEST(SquadFeatures, AnswerPositionsMapBackToTheAnswerText) {
  TempFolder folder;
  auto tokenizer = DemoTokenizer(folder);
  ASSERT_NE(tokenizer, nullptr);
  TaskData data{.task = Task::kSquad};
  data.squad.push_back(LongExample(40, 25));
  absl::StatusOr<std::vector<Feature>> features = BuildFeatures(
      data, *tokenizer, {.max_seq_length = 48, .doc_stride = 12, .max_query_length = 8});
  ASSERT_TRUE(features.ok()) << features.status();
  int windows_with_answer = 0;
  for (const Feature& feature : *features) {
    EXPECT_EQ(feature.label, -1);
    if (feature.start_position == 0) {
      EXPECT_EQ(feature.end_position, 0);
      continue;
    }
    ++windows_with_answer;
    const int64_t begin = feature.context_offsets[feature.start_position].first;
    const int64_t end = feature.context_offsets[feature.end_position].second;
    EXPECT_EQ(data.squad[0].context.substr(begin, end - begin), "paris");
  }
  EXPECT_GE(windows_with_answer, 1);
}

TEST(SquadFeatures, ShortContextGivesOneWindowAndTruncatesTheQuestion) {
  TempFolder folder;
  auto tokenizer = DemoTokenizer(folder);
  ASSERT_NE(tokenizer, nullptr);
  TaskData data{.task = Task::kSquad};
  data.squad.push_back({"s",
                        "what does the red fox eat in paris and rome ?",
                        "the red fox eats fish .",
                        {{"fish", 17}}});
  absl::StatusOr<std::vector<Feature>> features = BuildFeatures(
      data, *tokenizer, {.max_seq_length = 64, .doc_stride = 16, .max_query_length = 4});
  ASSERT_TRUE(features.ok()) << features.status();
  ASSERT_EQ(features->size(), 1u);
  const Feature& feature = features->front();
  EXPECT_EQ(feature.input_ids[5], tokenizer->sep_id());  // [CLS] 4 question tokens [SEP]
  EXPECT_EQ(feature.token_type_ids[5], 0);
  EXPECT_EQ(feature.token_type_ids[6], 1);
  EXPECT_EQ(feature.start_position, 10);  // "fish": [CLS] q q q q [SEP] the red fox eats fish
  EXPECT_EQ(feature.end_position, 10);
}

TEST(SquadFeatures, RejectsSettingsThatCannotAdvance) {
  TempFolder folder;
  auto tokenizer = DemoTokenizer(folder);
  ASSERT_NE(tokenizer, nullptr);
  TaskData data{.task = Task::kSquad};
  data.squad.push_back(LongExample(3, 1));
  EXPECT_EQ(
      BuildFeatures(data, *tokenizer, {.max_seq_length = 64, .doc_stride = 64}).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BuildFeatures(data, *tokenizer, {.doc_stride = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace istar::tasks

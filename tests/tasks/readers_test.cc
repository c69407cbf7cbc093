#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "tasks/task.h"
#include "tests/tasks/test_util.h"

namespace istar::tasks {
namespace {

using ::istar::tasks::testing::SharedData;
using ::istar::tasks::testing::TempFolder;
using ::testing::HasSubstr;

std::map<int64_t, int64_t> LabelCounts(const TaskData& data) {
  std::map<int64_t, int64_t> counts;
  for (const ClassificationExample& example : data.classification) ++counts[example.label];
  return counts;
}

TEST(TaskNames, ParseAndNameRoundTrip) {
  for (Task task : {Task::kSst2, Task::kSst5, Task::kQnli, Task::kSquad}) {
    EXPECT_EQ(ParseTask(TaskName(task)), task);
  }
  EXPECT_EQ(ParseTask("SST2"), std::nullopt);
  EXPECT_EQ(ParseTask("wnli"), std::nullopt);  // a GLUE task istar does not have
  EXPECT_EQ(NumLabels(Task::kSst5), 5);
  EXPECT_EQ(NumLabels(Task::kSquad), 0);
  EXPECT_EQ(PrimaryMetric(Task::kQnli), "accuracy");
  EXPECT_EQ(PrimaryMetric(Task::kSquad), "f1");
}

TEST(Sst2Reader, ReadsGlueDevFileAndTrimsTheSpaceBeforeTheTab) {
  ISTAR_REQUIRE_SHARED_DATA("sst2/dev.tsv");
  absl::StatusOr<TaskData> data = ReadTaskData(Task::kSst2, SharedData("sst2"), Split::kDev);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->split, Split::kDev);
  ASSERT_EQ(data->classification.size(), 872u);
  EXPECT_EQ(data->classification[0].text_a, "it 's a charming and often affecting journey .");
  EXPECT_EQ(data->classification[0].label, 1);
  EXPECT_EQ(data->classification[0].line, 2);
  const std::map<int64_t, int64_t> counts = LabelCounts(*data);
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts.at(0) + counts.at(1), 872);
}

TEST(QnliReader, ReadsDevFileWithEntailmentAsZero) {
  ISTAR_REQUIRE_SHARED_DATA("qnli/dev.tsv");
  absl::StatusOr<TaskData> data = ReadTaskData(Task::kQnli, SharedData("qnli"), Split::kDev);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->classification.size(), 5463u);
  EXPECT_EQ(LabelCounts(*data), (std::map<int64_t, int64_t>{{0, 2702}, {1, 2761}}));
  EXPECT_EQ(data->classification[0].label, 0);  // row 0 is "entailment"
  EXPECT_FALSE(data->classification[0].text_b.empty());
}

TEST(QnliReader, KeepsByteOrderMarksInsideFields) {
  ISTAR_REQUIRE_SHARED_DATA("qnli/dev.tsv");
  absl::StatusOr<TaskData> data = ReadQnliTsv(SharedData("qnli/dev.tsv"));
  ASSERT_TRUE(data.ok()) << data.status();
  int64_t marks = 0;
  for (const ClassificationExample& example : data->classification) {
    for (const std::string* text : {&example.text_a, &example.text_b}) {
      for (size_t at = text->find("\xEF\xBB\xBF"); at != std::string::npos;
           at = text->find("\xEF\xBB\xBF", at + 1)) {
        ++marks;
        EXPECT_EQ(example.line, 62);  // row 60 counted from 0, after the header line
      }
    }
  }
  EXPECT_EQ(marks, 3);
}

TEST(Sst5Reader, ReadsBothSplitsWithFiveClasses) {
  ISTAR_REQUIRE_SHARED_DATA("sst5/ids-sst-dev.csv");
  absl::StatusOr<TaskData> dev = ReadTaskData(Task::kSst5, SharedData("sst5"), Split::kDev);
  ASSERT_TRUE(dev.ok()) << dev.status();
  EXPECT_EQ(dev->classification.size(), 1101u);
  EXPECT_EQ(LabelCounts(*dev),
            (std::map<int64_t, int64_t>{{0, 139}, {1, 289}, {2, 229}, {3, 279}, {4, 165}}));
  EXPECT_EQ(dev->classification[0].text_a,
            "It 's a lovely film with lovely performances by Buy and Accorsi .");
  absl::StatusOr<TaskData> train = ReadTaskData(Task::kSst5, SharedData("sst5"), Split::kTrain);
  ASSERT_TRUE(train.ok()) << train.status();
  EXPECT_EQ(train->classification.size(), 8544u);
}

TEST(SquadReader, ReadsOfficialDevSet) {
  ISTAR_REQUIRE_SHARED_DATA("squad-v1.1/dev-v1.1.json");
  absl::StatusOr<TaskData> data = ReadTaskData(Task::kSquad, SharedData("squad-v1.1"), Split::kDev);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->squad.size(), 10570u);
  int64_t answers = 0;
  for (const SquadExample& example : data->squad) answers += example.answers.size();
  EXPECT_EQ(answers, 34726);
  EXPECT_TRUE(data->classification.empty());
}

TEST(TsvReaders, MissingFileIsNotFound) {
  TempFolder folder;
  EXPECT_EQ(ReadTaskData(Task::kSst2, folder.path(), Split::kTrain).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadSquadJson(folder.path() + "/nope.json").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(TsvReaders, WrongFieldCountNamesFileAndLine) {
  TempFolder folder;
  const std::string path = folder.Write("dev.tsv", "sentence\tlabel\ngood \t1\nno label\n");
  absl::Status status = ReadSst2Tsv(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(path + ":3: expected 2 tab-separated fields, got 1"));
}

TEST(TsvReaders, UnknownLabelNamesFileAndLine) {
  TempFolder folder;
  const std::string path = folder.Write(
      "dev.tsv", "index\tquestion\tsentence\tlabel\n0\tq?\ts.\tentailment\n1\tq?\ts.\tneutral\n");
  absl::Status status = ReadQnliTsv(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(path + ":3: unknown label 'neutral'"));
  const std::string sst5 = folder.Write("sst5.tsv", "\tid\tsentence\tsentiment\n0\tx\tok .\t5\n");
  EXPECT_THAT(ReadSst5(sst5).status().message(), HasSubstr(sst5 + ":2: unknown label '5'"));
}

TEST(TsvReaders, BadHeaderIsLineOne) {
  TempFolder folder;
  const std::string path = folder.Write("dev.tsv", "text\tlabel\ngood\t1\n");
  absl::Status status = ReadSst2Tsv(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(path + ":1: expected the header"));
}

TEST(TsvReaders, AcceptsCrlfAndMissingFinalNewline) {
  TempFolder folder;
  const std::string path = folder.Write("dev.tsv", "sentence\tlabel\r\nfine \t1\r\nbad\t0");
  absl::StatusOr<TaskData> data = ReadSst2Tsv(path);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->classification.size(), 2u);
  EXPECT_EQ(data->classification[1].text_a, "bad");
  EXPECT_EQ(data->classification[1].label, 0);
}

TEST(Sst5Reader, FallsBackToGlueFileNames) {
  TempFolder folder;
  folder.Write("train.tsv", "\tid\tsentence\tsentiment\n0\tx\tfine .\t3\n");
  absl::StatusOr<TaskData> data = ReadTaskData(Task::kSst5, folder.path(), Split::kTrain);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->classification.at(0).label, 3);
}

TEST(SquadReader, SyntaxErrorNamesLineAndColumn) {
  TempFolder folder;
  const std::string path = folder.Write("bad.json", "{\"data\": [\n  {\"paragraphs\": ]}");
  absl::Status status = ReadSquadJson(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(path + ":2:"));
}

// Found by fuzz/task_reader_fuzzer.cc: nlohmann's out_of_range for a number beyond a double used
// to escape the reader and end the process.
TEST(SquadReader, NumberTooLargeForADoubleIsInvalidArgument) {
  TempFolder folder;
  const std::string path = folder.Write("big.json", R"({"data": [], "version": 1e613})");
  absl::Status status = ReadSquadJson(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(path + ": invalid JSON: "));
  EXPECT_THAT(status.message(), HasSubstr("number overflow"));
}

TEST(SquadReader, MissingFieldNamesItsPlace) {
  TempFolder folder;
  const std::string path = folder.Write(
      "bad.json", R"({"data": [{"paragraphs": [{"context": "abc", "qas": [{"id": "x"}]}]}]})");
  absl::Status status = ReadSquadJson(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("data[0].paragraphs[0].qas[0]: expected 'question'"));
}

TEST(SquadReader, AnswerOutsideContextIsInvalid) {
  TempFolder folder;
  const std::string path = folder.Write(
      "bad.json",
      R"({"data": [{"paragraphs": [{"context": "abc", "qas": [{"id": "x", "question": "q",)"
      R"( "answers": [{"text": "bc", "answer_start": 2}]}]}]}]})");
  EXPECT_THAT(ReadSquadJson(path).status().message(),
              HasSubstr("answers[0]: answer_start 2 + 2 code points lies outside the context"));
}

}  // namespace
}  // namespace istar::tasks

// The readers of the GLUE tasks added for the I-STAR paper's ICLR version (CoLA, MRPC, QQP, RTE,
// STS-B, MNLI), on samples written in the exact format of GLUE's files, the real RTE file of
// shared/data, and the task table's agreement with the catalogue.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "catalog/catalog.h"
#include "tasks/task.h"
#include "tests/tasks/test_util.h"

namespace istar::tasks {
namespace {

using ::istar::tasks::testing::SharedData;
using ::istar::tasks::testing::TempFolder;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::map<int64_t, int64_t> LabelCounts(const TaskData& data) {
  std::map<int64_t, int64_t> counts;
  for (const ClassificationExample& example : data.classification) ++counts[example.label];
  return counts;
}

// The message of a reader's error, which must be InvalidArgument.
template <typename Reader>
std::string ErrorOf(Reader reader, const std::string& path) {
  absl::StatusOr<TaskData> data = reader(path);
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument) << data.status();
  return std::string(data.status().message());
}

// ---------------------------------------------------------------------------------------------
// The task table and the catalogue.

TEST(GlueTaskTable, EveryCatalogueRowIsATaskAndBack) {
  for (const catalog::TaskSpec& spec : catalog::Tasks()) {
    SCOPED_TRACE(spec.name);
    const std::optional<Task> task = ParseTask(spec.name);
    ASSERT_TRUE(task.has_value());
    EXPECT_EQ(TaskName(*task), spec.name);
    EXPECT_EQ(&TaskSpecOf(*task), &spec);
    EXPECT_EQ(NumLabels(*task), spec.num_labels());
    EXPECT_EQ(PrimaryMetric(*task), spec.primary_metric);
    ASSERT_FALSE(spec.metrics.empty());
    EXPECT_EQ(spec.metrics.front(), spec.primary_metric);  // "primary first"
  }
}

TEST(GlueTaskTable, LabelsMetricsAndKinds) {
  EXPECT_EQ(NumLabels(Task::kCola), 2);
  EXPECT_EQ(NumLabels(Task::kMnli), 3);
  EXPECT_EQ(NumLabels(Task::kStsb), 0);
  EXPECT_EQ(PrimaryMetric(Task::kCola), "matthews_corr");
  EXPECT_EQ(PrimaryMetric(Task::kMrpc), "f1");
  EXPECT_EQ(PrimaryMetric(Task::kQqp), "f1");
  EXPECT_EQ(PrimaryMetric(Task::kRte), "accuracy");
  EXPECT_EQ(PrimaryMetric(Task::kStsb), "pearson");
  EXPECT_EQ(PrimaryMetric(Task::kMnli), "accuracy");
  EXPECT_EQ(TaskSpecOf(Task::kCola).kind, catalog::TaskKind::kSingleSentence);
  EXPECT_EQ(TaskSpecOf(Task::kStsb).kind, catalog::TaskKind::kRegression);
  EXPECT_EQ(TaskSpecOf(Task::kMnli).kind, catalog::TaskKind::kSentencePair);
  EXPECT_THAT(TaskSpecOf(Task::kMnli).labels,
              ElementsAre("entailment", "neutral", "contradiction"));
  EXPECT_THAT(TaskSpecOf(Task::kMnli).eval_splits, ElementsAre("dev", "dev_mismatched"));
  EXPECT_THAT(TaskSpecOf(Task::kRte).eval_splits, ElementsAre("dev"));
}

TEST(GlueTaskTable, SplitNamesRoundTrip) {
  for (Split split : {Split::kTrain, Split::kDev, Split::kDevMismatched}) {
    EXPECT_EQ(ParseSplit(SplitName(split)), split);
  }
  EXPECT_EQ(SplitName(Split::kDevMismatched), "dev_mismatched");
  EXPECT_EQ(ParseSplit("dev_matched"), std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// CoLA: no header; source, label, author's mark, sentence.

TEST(ColaReader, ReadsRowsWithoutHeaderAndIgnoresTheMark) {
  TempFolder folder;
  folder.Write("train.tsv",
               "gj04\t1\t\tThe bird sang a song to the morning.\n"
               "gj04\t0\t*\tThe song sang the bird quickly of.\n"
               "bc01\t1\t\t\"Stop!\" she said to the dog.\n"
               "bc01\t0\t??\tWho did you wonder whether saw Mary?\n");
  absl::StatusOr<TaskData> data = ReadTaskData(Task::kCola, folder.path(), Split::kTrain);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->task, Task::kCola);
  ASSERT_EQ(data->classification.size(), 4u);
  EXPECT_EQ(data->classification[0].text_a, "The bird sang a song to the morning.");
  EXPECT_EQ(data->classification[0].label, 1);
  EXPECT_EQ(data->classification[0].line, 1);  // no header: the first row is line 1
  EXPECT_EQ(data->classification[1].label, 0);
  EXPECT_EQ(data->classification[2].text_a, "\"Stop!\" she said to the dog.");  // quotes kept
  EXPECT_TRUE(data->classification[2].text_b.empty());
  EXPECT_EQ(data->classification[3].label, 0);
}

TEST(ColaReader, BadRowsNameFileAndLine) {
  TempFolder folder;
  const std::string three = folder.Write("a.tsv", "gj04\t1\t\tFine.\ngj04\t1\tNo mark field.\n");
  EXPECT_THAT(ErrorOf(ReadColaTsv, three),
              HasSubstr(three + ":2: expected 4 tab-separated fields, got 3"));
  const std::string label = folder.Write("b.tsv", "gj04\t1\t\tFine.\ngj04\t*\t\tBad label.\n");
  EXPECT_THAT(ErrorOf(ReadColaTsv, label),
              HasSubstr(label + ":2: unknown label '*', expected 0 or 1"));
  // A header line (as GLUE's test.tsv has) is not a row.
  const std::string header = folder.Write("c.tsv", "index\tsentence\n");
  EXPECT_THAT(ErrorOf(ReadColaTsv, header), HasSubstr(header + ":1: expected 4 tab-separated"));
}

// ---------------------------------------------------------------------------------------------
// MRPC: header "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String", label first, byte-order mark.

constexpr char kMrpcHeader[] = "\xEF\xBB\xBFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n";

TEST(MrpcReader, ReadsLabelFirstAndSkipsTheByteOrderMark) {
  TempFolder folder;
  folder.Write("dev.tsv",
               std::string(kMrpcHeader) +
                   "1\t1089874\t1089925\tHe called the plan \" a disaster \" on Monday ."
                   "\tOn Monday he called the plan \" a disaster \" .\n"
                   "0\t3019446\t3019327\tShares rose 3 percent .\tThe company lost money .\n");
  absl::StatusOr<TaskData> data = ReadTaskData(Task::kMrpc, folder.path(), Split::kDev);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->split, Split::kDev);
  ASSERT_EQ(data->classification.size(), 2u);
  EXPECT_EQ(data->classification[0].label, 1);  // equivalent
  EXPECT_EQ(data->classification[0].text_a, "He called the plan \" a disaster \" on Monday .");
  EXPECT_EQ(data->classification[0].text_b, "On Monday he called the plan \" a disaster \" .");
  EXPECT_EQ(data->classification[1].label, 0);  // not_equivalent
  EXPECT_EQ(data->classification[1].line, 3);
}

TEST(MrpcReader, BadRowsNameFileAndLine) {
  TempFolder folder;
  const std::string label = folder.Write("a.tsv", std::string(kMrpcHeader) + "2\t1\t2\tA .\tB .\n");
  EXPECT_THAT(ErrorOf(ReadMrpcTsv, label),
              HasSubstr(label + ":2: unknown label '2', expected 0 or 1"));
  const std::string fields = folder.Write("b.tsv", std::string(kMrpcHeader) + "1\t1\tA .\tB .\n");
  EXPECT_THAT(ErrorOf(ReadMrpcTsv, fields),
              HasSubstr(fields + ":2: expected 5 tab-separated fields, got 4"));
  // The sentence-first order of Hugging Face's CSV exports is not GLUE's.
  const std::string header = folder.Write("c.tsv", "sentence1\tsentence2\tlabel\tidx\n");
  EXPECT_THAT(
      ErrorOf(ReadMrpcTsv, header),
      HasSubstr(header +
                ":1: expected the header 'Quality\\t#1 ID\\t#2 ID\\t#1 String\\t#2 String'"));
}

// ---------------------------------------------------------------------------------------------
// QQP: header "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate"; malformed rows skipped.

constexpr char kQqpHeader[] = "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n";

TEST(QqpReader, ReadsQuestionsAndSkipsMalformedRowsByLine) {
  TempFolder folder;
  // Line 3 and 4 are one question split by a newline: 4 fields, then 3 (Note [QQP's malformed
  // rows] in tasks/glue_readers.cc). Line 5 has a tab inside a question: 7 fields.
  folder.Write("train.tsv",
               std::string(kQqpHeader) +
                   "201\t401\t402\tHow do I learn C++?\tWhat is the best way to learn C++?\t1\n"
                   "202\t403\t404\tWhy is the sky\n"
                   "blue?\tWhat colour is the sea?\t0\n"
                   "203\t405\t406\tWhat is\ta tab?\tWhy?\t0\n"
                   "204\t407\t408\tIs \"Dune\" a good book?\tWho wrote Dune?\t0\n");
  absl::StatusOr<TaskData> data = ReadTaskData(Task::kQqp, folder.path(), Split::kTrain);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->classification.size(), 2u);
  EXPECT_EQ(data->classification[0].text_a, "How do I learn C++?");
  EXPECT_EQ(data->classification[0].text_b, "What is the best way to learn C++?");
  EXPECT_EQ(data->classification[0].label, 1);
  EXPECT_EQ(data->classification[1].text_a, "Is \"Dune\" a good book?");
  EXPECT_EQ(data->classification[1].label, 0);
  EXPECT_EQ(data->classification[1].line, 6);
  EXPECT_THAT(data->skipped_lines, ElementsAre(3, 4, 5));
}

TEST(QqpReader, A6FieldRowWithABadLabelIsStillAnError) {
  TempFolder folder;
  const std::string path = folder.Write(
      "dev.tsv", std::string(kQqpHeader) + "1\t2\t3\tA?\tB?\t0\n2\t4\t5\tC?\tD?\tyes\n");
  EXPECT_THAT(ErrorOf(ReadQqpTsv, path),
              HasSubstr(path + ":3: unknown label 'yes', expected 0 or 1"));
}

TEST(QqpReader, OtherReadersDoNotSkip) {
  TempFolder folder;
  const std::string path = folder.Write("dev.tsv", "1\t2\n");  // no reader but QQP's skips rows
  EXPECT_THAT(ErrorOf(ReadColaTsv, path), HasSubstr(path + ":1: expected 4 tab-separated"));
  absl::StatusOr<TaskData> rte = ReadRteTsv(
      folder.Write("rte.tsv", "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tentailment\n"));
  ASSERT_TRUE(rte.ok()) << rte.status();
  EXPECT_TRUE(rte->skipped_lines.empty());
}

// ---------------------------------------------------------------------------------------------
// RTE: header "index\tsentence1\tsentence2\tlabel".

TEST(RteReader, ReadsSampleWithGlueLabelOrder) {
  TempFolder folder;
  folder.Write(
      "dev.tsv",
      "index\tsentence1\tsentence2\tlabel\n"
      "0\tThe museum, called \"the Ark\", opened in 1990.\tThe Ark opened in 1990.\tentailment\n"
      "1\tRain fell all week in Oslo.\tOslo had a dry week.\tnot_entailment\n");
  absl::StatusOr<TaskData> data = ReadTaskData(Task::kRte, folder.path(), Split::kDev);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->classification.size(), 2u);
  EXPECT_EQ(data->classification[0].text_a, "The museum, called \"the Ark\", opened in 1990.");
  EXPECT_EQ(data->classification[0].text_b, "The Ark opened in 1990.");
  EXPECT_EQ(data->classification[0].label, 0);
  EXPECT_EQ(data->classification[1].label, 1);
}

TEST(RteReader, UnknownLabelNamesFileAndLine) {
  TempFolder folder;
  const std::string path = folder.Write(
      "dev.tsv",
      "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tentailment\n1\tA.\tB.\tcontradiction\n");
  EXPECT_THAT(
      ErrorOf(ReadRteTsv, path),
      HasSubstr(path + ":3: unknown label 'contradiction', expected entailment or not_entailment"));
}

// The real file: GLUE's format, 139 RTE pairs of a re-split (shared/data/SOURCES.md).
TEST(RteReader, ReadsRealGlueFile) {
  ISTAR_REQUIRE_SHARED_DATA("rte-resplit/dev.tsv");
  absl::StatusOr<TaskData> data = ReadTaskData(Task::kRte, SharedData("rte-resplit"), Split::kDev);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->classification.size(), 139u);
  EXPECT_EQ(LabelCounts(*data), (std::map<int64_t, int64_t>{{0, 70}, {1, 69}}));
  const ClassificationExample& first = data->classification.front();
  EXPECT_EQ(first.line, 2);
  EXPECT_EQ(first.text_b, "Lufthansa Technik Automotive fires 30 workers.");
  EXPECT_EQ(first.label, 1);  // not_entailment
  const ClassificationExample& last = data->classification.back();
  EXPECT_EQ(last.line, 140);
  EXPECT_EQ(last.text_b, "Antibiotics are used against peptic ulcer.");
  EXPECT_EQ(last.label, 0);  // entailment
  for (const ClassificationExample& example : data->classification) {
    EXPECT_FALSE(example.text_a.empty()) << example.line;
    EXPECT_FALSE(example.text_b.empty()) << example.line;
  }
}

// ---------------------------------------------------------------------------------------------
// STS-B: 10 fields, score last.

constexpr char kStsbHeader[] =
    "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n";

TEST(StsbReader, ReadsScoresAsRegressionTargets) {
  TempFolder folder;
  folder.Write("dev.tsv",
               std::string(kStsbHeader) +
                   "0\tmain-captions\tMSRvid\t2012test\t0000\tnone\tnone\tA man is playing a "
                   "flute.\tA man plays the flute.\t4.800\n"
                   "1\tmain-news\theadlines\t2015\t0101\tnone\tnone\tHe said \"no\" twice."
                   "\tThe market fell.\t0.000\n"
                   "2\tmain-forums\tdeft-forum\t2014\t0202\tnone\tnone\tA.\tB.\t5\n");
  absl::StatusOr<TaskData> data = ReadTaskData(Task::kStsb, folder.path(), Split::kDev);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->classification.size(), 3u);
  const ClassificationExample& first = data->classification[0];
  EXPECT_EQ(first.text_a, "A man is playing a flute.");
  EXPECT_EQ(first.text_b, "A man plays the flute.");
  EXPECT_DOUBLE_EQ(first.score, 4.8);
  EXPECT_EQ(first.label, -1);
  EXPECT_EQ(data->classification[1].text_a, "He said \"no\" twice.");
  EXPECT_DOUBLE_EQ(data->classification[1].score, 0.0);
  EXPECT_DOUBLE_EQ(data->classification[2].score, 5.0);
}

TEST(StsbReader, BadScoresNameFileAndLine) {
  TempFolder folder;
  const std::string row = "0\tg\tf\t2012\t0\tnone\tnone\tA.\tB.\t";
  const auto file = [&](const std::string& name, const std::string& score) {
    return folder.Write(name, std::string(kStsbHeader) + row + "1.0\n" + row + score + "\n");
  };
  const std::string words = file("a.tsv", "high");
  EXPECT_THAT(ErrorOf(ReadStsbTsv, words), HasSubstr(words + ":3: score 'high' is not a number"));
  const std::string trailing = file("b.tsv", "3.2x");
  EXPECT_THAT(ErrorOf(ReadStsbTsv, trailing),
              HasSubstr(trailing + ":3: score '3.2x' is not a number"));
  const std::string empty = file("c.tsv", "");
  EXPECT_THAT(ErrorOf(ReadStsbTsv, empty), HasSubstr(empty + ":3: score '' is not a number"));
  const std::string nan = file("d.tsv", "nan");
  EXPECT_THAT(ErrorOf(ReadStsbTsv, nan), HasSubstr(nan + ":3: score 'nan' is not a number"));
  const std::string high = file("e.tsv", "5.2");
  EXPECT_THAT(ErrorOf(ReadStsbTsv, high), HasSubstr(high + ":3: score 5.2 lies outside [0, 5]"));
  const std::string negative = file("f.tsv", "-0.5");
  EXPECT_THAT(ErrorOf(ReadStsbTsv, negative),
              HasSubstr(negative + ":3: score -0.5 lies outside [0, 5]"));
  const std::string fields = folder.Write("g.tsv", std::string(kStsbHeader) + "0\tA.\tB.\t3.0\n");
  EXPECT_THAT(ErrorOf(ReadStsbTsv, fields),
              HasSubstr(fields + ":2: expected 10 tab-separated fields, got 4"));
}

// ---------------------------------------------------------------------------------------------
// MNLI: train.tsv with 12 fields, dev_matched.tsv / dev_mismatched.tsv with 16.

constexpr char kMnliTrainHeader[] =
    "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
    "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label\n";
constexpr char kMnliDevHeader[] =
    "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
    "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\tlabel4\t"
    "label5\tgold_label\n";

// A dev row: the parses are placeholders, label1..label5 the annotators' labels.
std::string MnliDevRow(const std::string& premise, const std::string& hypothesis,
                       const std::string& gold) {
  return "0\t1\t1e\tfiction\t( ( A ) B )\t( C )\t(ROOT (S A B))\t(ROOT (S C))\t" + premise + "\t" +
         hypothesis + "\t" + gold + "\tneutral\t" + gold + "\t" + gold + "\tcontradiction\t" +
         gold + "\n";
}

TEST(MnliReader, ReadsTrainAndBothDevSets) {
  TempFolder folder;
  folder.Write(
      "train.tsv",
      std::string(kMnliTrainHeader) +
          "0\t31\t31n\tgovernment\t( ( The ( cat ) ) sat )\t( It ( sat ) )\t(ROOT (S (NP The "
          "cat) (VP sat)))\t(ROOT (S (NP It) (VP sat)))\tThe cat sat.\tIt sat. \tneutral\t"
          "neutral\n"
          "1\t32\t32c\ttelephone\t( x )\t( y )\t(ROOT x)\t(ROOT y)\tShe said \"yes\".\tShe "
          "said nothing.\tcontradiction\tcontradiction\n");
  folder.Write("dev_matched.tsv", std::string(kMnliDevHeader) +
                                      MnliDevRow("Prices rose.", "Prices went up.", "entailment"));
  folder.Write("dev_mismatched.tsv",
               std::string(kMnliDevHeader) +
                   MnliDevRow("Trains ran late.", "Trains were on time.", "contradiction") +
                   MnliDevRow("A dog barked.", "An animal made a noise.", "entailment"));

  absl::StatusOr<TaskData> train = ReadTaskData(Task::kMnli, folder.path(), Split::kTrain);
  ASSERT_TRUE(train.ok()) << train.status();
  ASSERT_EQ(train->classification.size(), 2u);
  EXPECT_EQ(train->classification[0].text_a, "The cat sat.");  // field 8, not a parse
  EXPECT_EQ(train->classification[0].text_b, "It sat.");       // field 9, trimmed
  EXPECT_EQ(train->classification[0].label, 1);                // neutral
  EXPECT_EQ(train->classification[1].text_a, "She said \"yes\".");
  EXPECT_EQ(train->classification[1].label, 2);  // contradiction

  absl::StatusOr<TaskData> matched = ReadTaskData(Task::kMnli, folder.path(), Split::kDev);
  ASSERT_TRUE(matched.ok()) << matched.status();
  EXPECT_EQ(matched->path, folder.path() + "/dev_matched.tsv");
  ASSERT_EQ(matched->classification.size(), 1u);
  EXPECT_EQ(matched->classification[0].text_b, "Prices went up.");
  EXPECT_EQ(matched->classification[0].label, 0);  // the gold label, not label2 ("neutral")

  absl::StatusOr<TaskData> mismatched = ReadEvalSplit(Task::kMnli, folder.path(), "dev_mismatched");
  ASSERT_TRUE(mismatched.ok()) << mismatched.status();
  EXPECT_EQ(mismatched->split, Split::kDevMismatched);
  EXPECT_EQ(mismatched->path, folder.path() + "/dev_mismatched.tsv");
  EXPECT_EQ(LabelCounts(*mismatched), (std::map<int64_t, int64_t>{{0, 1}, {2, 1}}));

  absl::StatusOr<TaskData> dev = ReadEvalSplit(Task::kMnli, folder.path(), "dev");
  ASSERT_TRUE(dev.ok()) << dev.status();
  EXPECT_EQ(dev->path, folder.path() + "/dev_matched.tsv");
}

TEST(MnliReader, BadRowsNameFileAndLine) {
  TempFolder folder;
  // A train row (12 fields) in a dev file (16).
  const std::string mixed =
      folder.Write("a.tsv", std::string(kMnliDevHeader) + MnliDevRow("A.", "B.", "neutral") +
                                "1\t2\t2n\tslate\tp\tq\tr\ts\tA.\tB.\tneutral\tneutral\n");
  EXPECT_THAT(ErrorOf(ReadMnliTsv, mixed),
              HasSubstr(mixed + ":3: expected 16 tab-separated fields, got 12"));
  // "-", the MultiNLI mark of pairs without a majority, is not a GLUE label.
  const std::string dash =
      folder.Write("b.tsv", std::string(kMnliDevHeader) + MnliDevRow("A.", "B.", "-"));
  EXPECT_THAT(
      ErrorOf(ReadMnliTsv, dash),
      HasSubstr(dash + ":2: unknown label '-', expected entailment, neutral or contradiction"));
  const std::string header = folder.Write("c.tsv", "index\tsentence1\tsentence2\tlabel\n");
  EXPECT_THAT(ErrorOf(ReadMnliTsv, header),
              HasSubstr(header + ":1: expected the header of MNLI's train.tsv (12 fields)"));
}

TEST(MnliReader, MissingDevFileIsNotFoundAndNamesIt) {
  TempFolder folder;
  absl::Status status = ReadTaskData(Task::kMnli, folder.path(), Split::kDevMismatched).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("dev_mismatched.tsv"));
}

TEST(EvalSplits, OnlyMnliHasAMismatchedDev) {
  TempFolder folder;
  folder.Write("dev.tsv", "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tentailment\n");
  absl::Status status = ReadEvalSplit(Task::kRte, folder.path(), "dev_mismatched").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("task rte has no evaluation split 'dev_mismatched'; expected one of dev"));
  EXPECT_EQ(ReadEvalSplit(Task::kRte, folder.path(), "train").status().code(),
            absl::StatusCode::kInvalidArgument);  // train is not an evaluation split
  EXPECT_EQ(ReadTaskData(Task::kRte, folder.path(), Split::kDevMismatched).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<TaskData> dev = ReadEvalSplit(Task::kRte, folder.path(), "dev");
  ASSERT_TRUE(dev.ok()) << dev.status();
  EXPECT_EQ(dev->split, Split::kDev);
  EXPECT_EQ(dev->classification.size(), 1u);
}

}  // namespace
}  // namespace istar::tasks

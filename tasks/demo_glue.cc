// Synthetic demo tasks in the exact file formats of GLUE's CoLA, MRPC, QQP, RTE, STS-B and MNLI
// (docs/tasks.md, "Demo data"): sentences of the demo sentiment words, whose labels or scores
// follow from the polarity of their words, so that a tiny random model can learn them.
#include <algorithm>
#include <array>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "tasks/internal/demo_words.h"
#include "tasks/internal/text_file.h"
#include "tasks/task.h"

namespace istar::tasks {
namespace {

using internal::Below;
using internal::Pick;

// How the second sentence of a pair relates to the first.
enum class Relation { kSame, kNeutral, kOpposite };

// A sentence whose sentiment words all have `polarity` (1 positive, 0 negative), or, with
// `neutral`, a sentence of neutral words only.
std::string DemoSentence(int polarity, bool neutral, std::mt19937_64& engine) {
  const std::vector<std::string_view>& words =
      neutral ? internal::kNeutralWords
              : (polarity == 1 ? internal::kPositiveWords : internal::kNegativeWords);
  const std::string start =
      absl::StrCat(Pick(internal::kSubjects, engine), " ", Pick(internal::kVerbs, engine), " ");
  if (Below(2, engine) == 0) {
    return absl::StrCat(start, Pick(words, engine), " and ", Pick(words, engine));
  }
  return absl::StrCat(start, "very ", Pick(words, engine));
}

// Note [Learnable demo pairs]
// The first sentence of a demo pair is always positive, and the relation (same polarity,
// opposite, neutral) shows in the second sentence alone. With a first sentence of random
// polarity the label would be the XOR of two polarities, which the demo's tiny random BERT does
// not learn (measured: chance after 10 epochs of MRPC and STS-B), while it learns the relation
// of a positive premise in 3 epochs, as it learns SST-2. The pairs still mean what their labels
// say (a positive review and one that agrees, disagrees or says nothing about it).

// One drawn pair: the relation (kNeutral only when `with_neutral`), then both sentences.
struct DemoPair {
  std::string a;
  std::string b;
  Relation relation = Relation::kSame;
};

DemoPair DrawPair(bool with_neutral, std::mt19937_64& engine) {
  const int polarity = 1;  // See Note [Learnable demo pairs].
  const uint64_t draw = Below(with_neutral ? 3 : 2, engine);
  const Relation relation =
      draw == 0 ? Relation::kSame : (draw == 1 ? Relation::kOpposite : Relation::kNeutral);
  DemoPair pair{.relation = relation};
  pair.a = DemoSentence(polarity, false, engine);
  pair.b = DemoSentence(relation == Relation::kSame ? polarity : 1 - polarity,
                        relation == Relation::kNeutral, engine);
  return pair;
}

// STS-B's score of a pair: in [4, 5] for the same polarity, [2, 3] against a neutral sentence,
// [0, 1] for the opposite one, with three decimals as GLUE writes them ("4.250").
std::string DemoScore(Relation relation, std::mt19937_64& engine) {
  const int base = relation == Relation::kSame ? 4 : (relation == Relation::kNeutral ? 2 : 0);
  const auto thousandths = static_cast<int>(Below(1001, engine));
  const int value = base * 1000 + thousandths;
  const int fraction = value % 1000;
  return absl::StrCat(value / 1000, ".", fraction < 100 ? "0" : "", fraction < 10 ? "0" : "",
                      fraction);
}

constexpr const char* kBom = "\xEF\xBB\xBF";
constexpr const char* kMnliLabels[] = {"entailment", "neutral", "contradiction"};

// One row of `task` for example `i` (without the line end), drawn from the example's own
// `engine` (Note [Demo seeds] in tasks/internal/demo_words.h).
std::string DemoRow(Task task, int64_t i, std::mt19937_64& engine, const std::string& genre,
                    bool mnli_dev) {
  switch (task) {
    case Task::kCola: {
      const int label = static_cast<int>(Below(2, engine));
      return absl::StrCat("demo\t", label, "\t", label == 1 ? "" : "*", "\t",
                          DemoSentence(label, false, engine));
    }
    case Task::kMrpc: {
      const DemoPair p = DrawPair(false, engine);
      return absl::StrCat(p.relation == Relation::kSame ? 1 : 0, "\t", 1000 + 2 * i, "\t",
                          1001 + 2 * i, "\t", p.a, "\t", p.b);
    }
    case Task::kQqp: {
      const DemoPair p = DrawPair(false, engine);
      return absl::StrCat(i, "\t", 2 * i + 1, "\t", 2 * i + 2, "\t", p.a, " ?\t", p.b, " ?\t",
                          p.relation == Relation::kSame ? 1 : 0);
    }
    case Task::kRte: {
      const DemoPair p = DrawPair(false, engine);
      return absl::StrCat(i, "\t", p.a, "\t", p.b, "\t",
                          p.relation == Relation::kSame ? "entailment" : "not_entailment");
    }
    case Task::kStsb: {
      const DemoPair p = DrawPair(true, engine);
      return absl::StrCat(i, "\tmain-captions\tdemo\t2012test\t", i, "\tnone\tnone\t", p.a, "\t",
                          p.b, "\t", DemoScore(p.relation, engine));
    }
    default: {  // kMnli
      const DemoPair p = DrawPair(true, engine);
      const std::string label =
          kMnliLabels[p.relation == Relation::kSame ? 0
                                                    : (p.relation == Relation::kNeutral ? 1 : 2)];
      std::string row = absl::StrCat(i, "\t", 10 * i, "\t", 10 * i, label.substr(0, 1), "\t", genre,
                                     "\t( ", p.a, " )\t( ", p.b, " )\t(ROOT ", p.a, ")\t(ROOT ",
                                     p.b, ")\t", p.a, "\t", p.b, "\t", label);
      for (int k = 0; k < (mnli_dev ? 4 : 0); ++k) absl::StrAppend(&row, "\t", label);
      return absl::StrCat(row, "\t", label);
    }
  }
}

// The header line of `task`'s files ("" for CoLA, whose files have none).
std::string DemoHeader(Task task, bool mnli_dev) {
  switch (task) {
    case Task::kCola:
      return "";
    case Task::kMrpc:  // GLUE's copy of Microsoft's header keeps its byte-order mark
      return absl::StrCat(kBom, "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n");
    case Task::kQqp:
      return "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n";
    case Task::kRte:
      return "index\tsentence1\tsentence2\tlabel\n";
    case Task::kStsb:
      return "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\t"
             "score\n";
    default:
      return absl::StrCat(
          "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
          "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\t",
          mnli_dev ? "label2\tlabel3\tlabel4\tlabel5\t" : "", "gold_label\n");
  }
}

// `split`: 0 train, 1 dev (MNLI: dev_matched), 2 MNLI's dev_mismatched (Note [Demo seeds]).
std::string DemoGlueFile(Task task, uint64_t seed, int split, int64_t size) {
  const uint64_t salt = 0x474C5545ULL ^ (static_cast<uint64_t>(task) << 40);  // "GLUE"
  const bool mnli_dev = task == Task::kMnli && split > 0;
  std::string tsv = DemoHeader(task, mnli_dev);
  const std::string genre = split == 2 ? "letters" : "fiction";
  for (int64_t i = 0; i < size; ++i) {
    std::mt19937_64 engine = internal::ExampleEngine(seed, salt, split, i);
    absl::StrAppend(&tsv, DemoRow(task, i, engine, genre, mnli_dev), "\n");
  }
  return tsv;
}

}  // namespace

absl::Status WriteDemoGlueTask(Task task, const std::string& folder, const DemoOptions& options) {
  if (task == Task::kSst2) return WriteDemoSentimentTask(folder, options);
  constexpr std::array kGlue = {Task::kCola, Task::kMrpc, Task::kQqp,
                                Task::kRte,  Task::kStsb, Task::kMnli};
  if (std::find(kGlue.begin(), kGlue.end(), task) == kGlue.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no synthetic GLUE demo for task ", std::string(TaskName(task)),
                     "; expected sst2, cola, mrpc, qqp, rte, stsb or mnli"));
  }
  if (options.train_examples < 0 || options.dev_examples < 0) {
    return absl::InvalidArgumentError(absl::StrCat("demo sizes must not be negative: train ",
                                                   options.train_examples, ", dev ",
                                                   options.dev_examples));
  }
  ISTAR_RETURN_IF_ERROR(internal::MakeFolder(folder));
  ISTAR_RETURN_IF_ERROR(
      internal::WriteFile(absl::StrCat(folder, "/train.tsv"),
                          DemoGlueFile(task, options.seed, 0, options.train_examples)));
  if (task != Task::kMnli) {
    return internal::WriteFile(absl::StrCat(folder, "/dev.tsv"),
                               DemoGlueFile(task, options.seed, 1, options.dev_examples));
  }
  ISTAR_RETURN_IF_ERROR(
      internal::WriteFile(absl::StrCat(folder, "/dev_matched.tsv"),
                          DemoGlueFile(task, options.seed, 1, options.dev_examples)));
  return internal::WriteFile(absl::StrCat(folder, "/dev_mismatched.tsv"),
                             DemoGlueFile(task, options.seed, 2, options.dev_examples));
}

}  // namespace istar::tasks

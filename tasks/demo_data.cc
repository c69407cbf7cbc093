// Synthetic demo tasks: a sentiment task in SST-2 format, a QA task in SQuAD format, and the
// WordPiece vocabulary that covers both (docs/tasks.md, "Demo data").
#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "tasks/internal/demo_words.h"
#include "tasks/internal/text_file.h"
#include "tasks/task.h"

namespace istar::tasks {
namespace {

using internal::Below;
using internal::Pick;

constexpr uint64_t kSentimentSalt = 0x53454E54;  // "SENT"

absl::Status CheckSizes(const DemoOptions& options) {
  if (options.train_examples < 0 || options.dev_examples < 0) {
    return absl::InvalidArgumentError(absl::StrCat("demo sizes must not be negative: train ",
                                                   options.train_examples, ", dev ",
                                                   options.dev_examples));
  }
  return absl::OkStatus();
}

// One sentence and its label (1 positive, 0 negative): every sentiment word in it has the
// label's polarity; neutral words carry none.
std::pair<std::string, int> SentimentExample(std::mt19937_64& engine) {
  const int label = static_cast<int>(Below(2, engine));
  const std::vector<std::string_view>& polar =
      label == 1 ? internal::kPositiveWords : internal::kNegativeWords;
  const std::string start =
      absl::StrCat(Pick(internal::kSubjects, engine), " ", Pick(internal::kVerbs, engine), " ");
  std::string sentence;
  switch (Below(4, engine)) {
    case 0:
      sentence = absl::StrCat(start, Pick(polar, engine), " and ", Pick(polar, engine));
      break;
    case 1:
      sentence =
          absl::StrCat(start, Pick(internal::kNeutralWords, engine), " but ", Pick(polar, engine));
      break;
    case 2:
      sentence = absl::StrCat(start, Pick(polar, engine));
      break;
    default:
      sentence = absl::StrCat(start, "very ", Pick(polar, engine), " and ",
                              Pick(internal::kNeutralWords, engine));
  }
  return {sentence, label};
}

std::string SentimentSplit(uint64_t seed, int split, int64_t size) {
  std::string tsv = "sentence\tlabel\n";
  for (int64_t i = 0; i < size; ++i) {
    std::mt19937_64 engine = internal::ExampleEngine(seed, kSentimentSalt, split, i);
    const auto [sentence, label] = SentimentExample(engine);
    absl::StrAppend(&tsv, sentence, " \t", label, "\n");  // GLUE's space before the tab
  }
  return tsv;
}

// Adds the words of `phrases` (split on spaces) to `vocab`, skipping those already there.
void AddWords(std::span<const std::string_view> phrases, std::set<std::string>& seen,
              std::string& vocab) {
  for (std::string_view phrase : phrases) {
    while (!phrase.empty()) {
      const size_t space = std::min(phrase.find(' '), phrase.size());
      const std::string word(phrase.substr(0, space));
      if (!word.empty() && seen.insert(word).second) absl::StrAppend(&vocab, word, "\n");
      phrase.remove_prefix(std::min(space + 1, phrase.size()));
    }
  }
}

}  // namespace

absl::Status WriteDemoSentimentTask(const std::string& folder, const DemoOptions& options) {
  ISTAR_RETURN_IF_ERROR(CheckSizes(options));
  ISTAR_RETURN_IF_ERROR(internal::MakeFolder(folder));
  ISTAR_RETURN_IF_ERROR(internal::WriteFile(
      absl::StrCat(folder, "/train.tsv"), SentimentSplit(options.seed, 0, options.train_examples)));
  return internal::WriteFile(absl::StrCat(folder, "/dev.tsv"),
                             SentimentSplit(options.seed, 1, options.dev_examples));
}

absl::Status WriteDemoVocab(const std::string& path) {
  std::string vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
  std::set<std::string> seen;
  for (const auto* list :
       {&internal::kPositiveWords, &internal::kNegativeWords, &internal::kNeutralWords,
        &internal::kSubjects, &internal::kVerbs, &internal::kNames, &internal::kCities,
        &internal::kJobs, &internal::kColors, &internal::kAnimals, &internal::kFoods,
        &internal::kFunctionWords}) {
    AddWords(*list, seen, vocab);
  }
  // Single characters and their continuations: any lower-case ASCII word (years, unseen names)
  // tokenises into known pieces instead of [UNK].
  for (const std::string prefix : {"", "##"}) {
    for (char c : std::string_view("0123456789abcdefghijklmnopqrstuvwxyz")) {
      const std::string piece = prefix + c;
      if (seen.insert(piece).second) absl::StrAppend(&vocab, piece, "\n");
    }
  }
  return internal::WriteFile(path, vocab);
}

}  // namespace istar::tasks

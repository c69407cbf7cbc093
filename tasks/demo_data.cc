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
using internal::Unit;

constexpr uint64_t kSentimentSalt = 0x53454E54;  // "SENT"

absl::Status CheckSizes(const DemoOptions& options) {
  if (options.train_examples < 0 || options.dev_examples < 0) {
    return absl::InvalidArgumentError(absl::StrCat("demo sizes must not be negative: train ",
                                                   options.train_examples, ", dev ",
                                                   options.dev_examples));
  }
  return absl::OkStatus();
}

// Note [A harder demo]
// With the defaults, every sentiment word of a sentence has its label's polarity: a tiny random
// BERT reaches accuracy 1 within an epoch, whatever its regularizer, and a demo comparison shows
// no difference in accuracy. contrast_fraction adds sentences whose words point both ways, which
// only composition decides ("good but awful" is negative, "not good" is negative), and
// label_noise flips labels at random, so no model exceeds about 1 - label_noise on dev. The extra
// draws happen only when an option is above 0, so the default files are byte for byte those of
// earlier releases (and the recorded results of the tests that train on them stand).

// One sentence and its label (1 positive, 0 negative). A plain sentence: every sentiment word in
// it has the label's polarity; neutral words carry none.
std::pair<std::string, int> SentimentExample(std::mt19937_64& engine, const DemoOptions& options) {
  int label = static_cast<int>(Below(2, engine));
  const std::vector<std::string_view>& polar =
      label == 1 ? internal::kPositiveWords : internal::kNegativeWords;
  const std::vector<std::string_view>& opposite =
      label == 1 ? internal::kNegativeWords : internal::kPositiveWords;
  const std::string start =
      absl::StrCat(Pick(internal::kSubjects, engine), " ", Pick(internal::kVerbs, engine), " ");
  std::string sentence;
  const bool contrast = options.contrast_fraction > 0 && Unit(engine) < options.contrast_fraction;
  const uint64_t frame = contrast ? 4 + Below(2, engine) : Below(4, engine);
  switch (frame) {
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
    case 3:
      sentence = absl::StrCat(start, "very ", Pick(polar, engine), " and ",
                              Pick(internal::kNeutralWords, engine));
      break;
    case 4:  // the clause after "but" decides
      sentence = absl::StrCat(start, Pick(opposite, engine), " but ", Pick(polar, engine));
      break;
    default:  // a negated word of the other polarity
      sentence = absl::StrCat(start, "not ", Pick(opposite, engine));
  }
  if (options.label_noise > 0 && Unit(engine) < options.label_noise) label = 1 - label;
  return {sentence, label};
}

std::string SentimentSplit(const DemoOptions& options, int split, int64_t size) {
  std::string tsv = "sentence\tlabel\n";
  for (int64_t i = 0; i < size; ++i) {
    std::mt19937_64 engine = internal::ExampleEngine(options.seed, kSentimentSalt, split, i);
    const auto [sentence, label] = SentimentExample(engine, options);
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
  for (const auto& [name, value] : {std::pair{"contrast_fraction", options.contrast_fraction},
                                    std::pair{"label_noise", options.label_noise}}) {
    if (!(value >= 0.0 && value <= 1.0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("demo ", name, " must be in [0, 1], got ", value));
    }
  }
  ISTAR_RETURN_IF_ERROR(internal::MakeFolder(folder));
  ISTAR_RETURN_IF_ERROR(internal::WriteFile(absl::StrCat(folder, "/train.tsv"),
                                            SentimentSplit(options, 0, options.train_examples)));
  return internal::WriteFile(absl::StrCat(folder, "/dev.tsv"),
                             SentimentSplit(options, 1, options.dev_examples));
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

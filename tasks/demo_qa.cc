// The synthetic QA task in SQuAD v1.1 format (docs/tasks.md, "Demo data").
#include <algorithm>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "tasks/internal/demo_words.h"
#include "tasks/internal/text_file.h"
#include "tasks/task.h"

namespace istar::tasks {
namespace {

using internal::Below;
using internal::Pick;
using Json = nlohmann::json;

constexpr uint64_t kQaSalt = 0x51410000;  // "QA": keeps QA draws apart from sentiment draws
constexpr int64_t kParagraphsPerArticle = 10;

// One sentence of a context, the question it answers and the answer's place in the sentence.
struct Fact {
  std::string sentence;
  std::string question;
  std::string answer;
};

Fact MakeFact(int kind, const std::string& name, std::mt19937_64& engine) {
  switch (kind) {
    case 0: {
      const std::string city = Pick(internal::kCities, engine);
      return {absl::StrCat(name, " lives in ", city, " ."),
              absl::StrCat("where does ", name, " live ?"), city};
    }
    case 1: {
      const std::string job = Pick(internal::kJobs, engine);
      return {absl::StrCat(name, " works as a ", job, " ."),
              absl::StrCat("what does ", name, " work as ?"), job};
    }
    case 2: {
      const std::string year = absl::StrCat(1900 + Below(120, engine));
      return {absl::StrCat(name, " was born in ", year, " ."),
              absl::StrCat("when was ", name, " born ?"), year};
    }
    default: {
      const std::string animal = absl::StrCat("the ", Pick(internal::kColors, engine), " ",
                                              Pick(internal::kAnimals, engine));
      const std::string food = Pick(internal::kFoods, engine);
      return {absl::StrCat(animal, " eats ", food, " ."),
              absl::StrCat("what does ", animal, " eat ?"), food};
    }
  }
}

// A paragraph of four facts about distinct people (and one animal), in random order, with one
// question about one of them.
Json Paragraph(uint64_t seed, int split, int64_t index) {
  std::mt19937_64 engine = internal::ExampleEngine(seed, kQaSalt, split, index);
  std::vector<std::string_view> names = internal::kNames;
  for (size_t i = names.size() - 1; i > 0; --i) std::swap(names[i], names[Below(i + 1, engine)]);
  std::vector<int> kinds = {0, 1, 2, 3};
  for (size_t i = kinds.size() - 1; i > 0; --i) std::swap(kinds[i], kinds[Below(i + 1, engine)]);
  std::vector<Fact> facts;
  for (size_t i = 0; i < kinds.size(); ++i) {
    facts.push_back(MakeFact(kinds[i], std::string(names[i]), engine));
  }
  const size_t asked = Below(facts.size(), engine);
  std::string context;
  int64_t answer_start = 0;
  for (size_t i = 0; i < facts.size(); ++i) {
    if (!context.empty()) context += ' ';
    if (i == asked) {
      answer_start = static_cast<int64_t>(context.size() + facts[i].sentence.find(facts[i].answer));
    }
    context += facts[i].sentence;
  }
  const Json answer = {{"text", facts[asked].answer}, {"answer_start", answer_start}};
  const Json qa = {{"id", absl::StrCat("demo-", split == 0 ? "train" : "dev", "-", index)},
                   {"question", facts[asked].question},
                   {"answers", Json::array({answer})}};
  return {{"context", context}, {"qas", Json::array({qa})}};
}

std::string QaSplit(uint64_t seed, int split, int64_t size) {
  Json articles = Json::array();
  for (int64_t i = 0; i < size; ++i) {
    if (i % kParagraphsPerArticle == 0) {
      articles.push_back({{"title", absl::StrCat("demo_", i / kParagraphsPerArticle)},
                          {"paragraphs", Json::array()}});
    }
    articles.back()["paragraphs"].push_back(Paragraph(seed, split, i));
  }
  return Json{{"data", articles}, {"version", "1.1"}}.dump() + "\n";
}

}  // namespace

absl::Status WriteDemoQaTask(const std::string& folder, const DemoOptions& options) {
  if (options.train_examples < 0 || options.dev_examples < 0) {
    return absl::InvalidArgumentError(absl::StrCat("demo sizes must not be negative: train ",
                                                   options.train_examples, ", dev ",
                                                   options.dev_examples));
  }
  ISTAR_RETURN_IF_ERROR(internal::MakeFolder(folder));
  ISTAR_RETURN_IF_ERROR(internal::WriteFile(absl::StrCat(folder, "/train-v1.1.json"),
                                            QaSplit(options.seed, 0, options.train_examples)));
  return internal::WriteFile(absl::StrCat(folder, "/dev-v1.1.json"),
                             QaSplit(options.seed, 1, options.dev_examples));
}

}  // namespace istar::tasks

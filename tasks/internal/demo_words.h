// File: tasks/internal/demo_words.h
// -----------------------------------------------------------------------------
// The word lists and the random draws of the synthetic demo tasks (docs/tasks.md, "Demo data").
#ifndef ISTAR_TASKS_INTERNAL_DEMO_WORDS_H_
#define ISTAR_TASKS_INTERNAL_DEMO_WORDS_H_

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace istar::tasks::internal {

// Note [Demo seeds]: example `index` of split `split` (0 train, 1 dev) of a demo task is drawn
// from its own std::mt19937_64, seeded with SplitMix64(seed ^ SplitMix64(split << 32 | index)
// ^ task_salt). Examples are therefore independent of the split sizes (the first 100 examples
// are the same whether 100 or 2000 are asked for), and identical on every platform: only the
// engine's raw output is used (Pick below), never a std:: distribution, whose algorithms differ
// between standard libraries.
std::mt19937_64 ExampleEngine(uint64_t seed, uint64_t task_salt, int split, int64_t index);

// A uniformly chosen element, as a std::string (absl::StrCat takes no std::string_view here)
// (modulo bias < 1e-17 for these list sizes).
std::string Pick(std::span<const std::string_view> words, std::mt19937_64& engine);
// A value in [0, n).
uint64_t Below(uint64_t n, std::mt19937_64& engine);
// A value in [0, 1): the top 53 bits of one draw.
double Unit(std::mt19937_64& engine);

// Sentiment words and the frame around them.
extern const std::vector<std::string_view> kPositiveWords;
extern const std::vector<std::string_view> kNegativeWords;
extern const std::vector<std::string_view> kNeutralWords;
extern const std::vector<std::string_view> kSubjects;  // "the film", ...
extern const std::vector<std::string_view> kVerbs;     // "was", ...

// QA facts.
extern const std::vector<std::string_view> kNames;
extern const std::vector<std::string_view> kCities;
extern const std::vector<std::string_view> kJobs;
extern const std::vector<std::string_view> kColors;
extern const std::vector<std::string_view> kAnimals;
extern const std::vector<std::string_view> kFoods;

// Every other word the demo tasks write (articles, connectives, question words, punctuation).
extern const std::vector<std::string_view> kFunctionWords;

}  // namespace istar::tasks::internal

#endif  // ISTAR_TASKS_INTERNAL_DEMO_WORDS_H_

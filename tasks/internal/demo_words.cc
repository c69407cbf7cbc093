#include "tasks/internal/demo_words.h"

namespace istar::tasks::internal {
namespace {

// Sebastiano Vigna's SplitMix64 finaliser: spreads nearby inputs over the whole 64-bit range.
uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace

std::mt19937_64 ExampleEngine(uint64_t seed, uint64_t task_salt, int split, int64_t index) {
  const uint64_t position = (static_cast<uint64_t>(split) << 32) | static_cast<uint64_t>(index);
  return std::mt19937_64(SplitMix64(seed ^ SplitMix64(position) ^ task_salt));
}

uint64_t Below(uint64_t n, std::mt19937_64& engine) { return engine() % n; }

double Unit(std::mt19937_64& engine) { return static_cast<double>(engine() >> 11) * 0x1.0p-53; }

std::string Pick(std::span<const std::string_view> words, std::mt19937_64& engine) {
  return std::string(words[Below(words.size(), engine)]);
}

const std::vector<std::string_view> kPositiveWords = {
    "wonderful", "moving",    "brilliant", "charming", "delightful", "superb",
    "funny",     "beautiful", "touching",  "clever",   "gripping",   "fresh"};
const std::vector<std::string_view> kNegativeWords = {"boring",  "dull",     "awful",   "clumsy",
                                                      "tedious", "terrible", "bland",   "messy",
                                                      "silly",   "stale",    "painful", "lifeless"};
const std::vector<std::string_view> kNeutralWords = {"long",  "quiet",  "simple", "modern",
                                                     "short", "french", "loud",   "familiar"};
const std::vector<std::string_view> kSubjects = {
    "the film",   "the movie", "this story", "the acting", "the plot",
    "the script", "the music", "the ending", "the cast",   "the director 's work"};
const std::vector<std::string_view> kVerbs = {"was", "is", "felt", "seemed", "looked"};

const std::vector<std::string_view> kNames = {"anna",  "ben",  "carla", "david", "emma",  "felix",
                                              "grace", "hugo", "iris",  "jonas", "karen", "leo"};
const std::vector<std::string_view> kCities = {"paris",  "london", "berlin", "madrid", "rome",
                                               "vienna", "oslo",   "lisbon", "prague", "dublin"};
const std::vector<std::string_view> kJobs = {"teacher", "doctor", "baker", "pilot",
                                             "farmer",  "singer", "nurse", "lawyer"};
const std::vector<std::string_view> kColors = {"red", "blue", "green", "black", "white", "brown"};
const std::vector<std::string_view> kAnimals = {"fox", "cat", "dog", "horse", "owl", "rabbit"};
const std::vector<std::string_view> kFoods = {"apples", "bread",   "fish",
                                              "rice",   "carrots", "cheese"};

const std::vector<std::string_view> kFunctionWords = {
    "the",   "a",    "an",   "and", "but",  "this", "it",  "in",   "as",    "was",  "is",    "of",
    "where", "what", "when", "who", "does", "do",   "did", "live", "lives", "work", "works", "eat",
    "eats",  "born", "very", "not", "'",    "s",    ".",   "?",    ",",     "!"};

}  // namespace istar::tasks::internal

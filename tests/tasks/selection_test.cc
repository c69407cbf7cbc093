// The held-out selection cut of a dev set (tasks/selection.h): sizes, determinism, a pinned case
// computed independently, and the subsets' examples and features.
#include "tasks/selection.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace istar::tasks {
namespace {

using ::testing::ElementsAre;

SelectionCut Cut(int64_t n, double fraction, uint64_t seed) {
  absl::StatusOr<SelectionCut> cut = CutForSelection(n, fraction, seed);
  EXPECT_TRUE(cut.ok()) << cut.status();
  return cut.ok() ? *cut : SelectionCut{};
}

// Pinned by an independent Python transcription of the documented algorithm (docs/training.md,
// "Held-out selection"), with Python's unbounded integers masked to 64 bits:
//   M = 2**64 - 1; s = 7
//   def nxt(): global s; s = (s + 0x9E3779B97F4A7C15) & M; z = s
//       z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
//       z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M; return z ^ (z >> 31)
//   o = list(range(10))
//   for i in range(9, 0, -1): j = nxt() % (i + 1); o[i], o[j] = o[j], o[i]
// draws j = 7, 6, 2, 3, 4, 0, 2, 0, 1 (for i = 9 .. 1), so o = [8, 1, 5, 9, 0, 4, 3, 2, 6, 7];
// k = floor(0.5 * 10 + 0.5) = 5: selection = sorted(o[:5]) = [0, 1, 5, 8, 9], report the rest.
// (The generator's first output from seed 0, 0xe220a8397b1dcdaf, is the value of Vigna's
// reference splitmix64.c, which checks the transcription.)
TEST(SelectionCut, PinnedSmallCaseMatchesTheWrittenOutAlgorithm) {
  const SelectionCut cut = Cut(10, 0.5, 7);
  EXPECT_THAT(cut.selection, ElementsAre(0, 1, 5, 8, 9));
  EXPECT_THAT(cut.report, ElementsAre(2, 3, 4, 6, 7));
  // The same transcription with seed 8 and with (n 5, fraction 0.3, seed 0).
  EXPECT_THAT(Cut(10, 0.5, 8).selection, ElementsAre(0, 3, 5, 6, 7));
  EXPECT_THAT(Cut(5, 0.3, 0).selection, ElementsAre(2, 3));
}

TEST(SelectionCut, PartsAreDisjointCoverEverythingAndAscend) {
  for (const int64_t n : {2, 3, 10, 97, 1000}) {
    for (const double fraction : {0.01, 0.3, 0.5, 0.99}) {
      const SelectionCut cut = Cut(n, fraction, 12345);
      std::vector<int64_t> all = cut.selection;
      all.insert(all.end(), cut.report.begin(), cut.report.end());
      std::sort(all.begin(), all.end());
      std::vector<int64_t> expected(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) expected[static_cast<size_t>(i)] = i;
      EXPECT_EQ(all, expected) << "n " << n << " fraction " << fraction;
      EXPECT_TRUE(std::is_sorted(cut.selection.begin(), cut.selection.end()));
      EXPECT_TRUE(std::is_sorted(cut.report.begin(), cut.report.end()));
    }
  }
}

TEST(SelectionCut, SizesAreTheRoundedFractionKeepingBothPartsNonEmpty) {
  // round(fraction * n), half up: 0.5 * 9 = 4.5 -> 5; 0.3 * 10 = 3; 0.25 * 10 = 2.5 -> 3.
  EXPECT_EQ(Cut(9, 0.5, 1).selection.size(), 5u);
  EXPECT_EQ(Cut(10, 0.3, 1).selection.size(), 3u);
  EXPECT_EQ(Cut(10, 0.25, 1).selection.size(), 3u);
  EXPECT_EQ(Cut(10, 0.25, 1).report.size(), 7u);
  EXPECT_EQ(Cut(872, 0.5, 1).selection.size(), 436u);  // SST-2's dev set
  // 0.01 * 10 rounds to 0 and 0.99 * 10 to 10: clamped to 1 and n - 1.
  EXPECT_EQ(Cut(10, 0.01, 1).selection.size(), 1u);
  EXPECT_EQ(Cut(10, 0.99, 1).selection.size(), 9u);
  EXPECT_EQ(Cut(2, 0.5, 1).selection.size(), 1u);
  EXPECT_EQ(Cut(2, 0.5, 1).report.size(), 1u);
}

TEST(SelectionCut, SameSeedSameCutOtherSeedOtherCut) {
  const SelectionCut a = Cut(200, 0.5, 42);
  const SelectionCut b = Cut(200, 0.5, 42);
  EXPECT_EQ(a.selection, b.selection);
  EXPECT_EQ(a.report, b.report);
  std::set<std::vector<int64_t>> distinct;
  for (uint64_t seed = 0; seed < 20; ++seed) distinct.insert(Cut(200, 0.5, seed).selection);
  EXPECT_EQ(distinct.size(), 20u);  // C(200, 100) choices: a repeat would be a broken generator
}

TEST(SelectionCut, RejectsTooFewExamplesAndFractionsOutsideTheOpenInterval) {
  EXPECT_EQ(CutForSelection(1, 0.5, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CutForSelection(0, 0.5, 0).status().code(), absl::StatusCode::kInvalidArgument);
  for (const double fraction : {0.0, 1.0, -0.5, 1.5}) {
    EXPECT_EQ(CutForSelection(10, fraction, 0).status().code(), absl::StatusCode::kInvalidArgument)
        << fraction;
  }
}

TEST(SubsetOfExamples, KeepsEverySquadWindowOfAnExampleAndRenumbersThem) {
  TaskData data{.task = Task::kSquad, .split = Split::kDev, .path = "dev-v1.1.json"};
  for (const char* id : {"q0", "q1", "q2"}) data.squad.push_back({.id = id});
  data.skipped_lines = {4};
  // Example 0 has two windows, example 1 one, example 2 three; the label marks the window.
  std::vector<Feature> features;
  for (const auto& [example, label] :
       std::vector<std::pair<int64_t, int64_t>>{{0, 0}, {0, 1}, {1, 2}, {2, 3}, {2, 4}, {2, 5}}) {
    features.push_back({.label = label, .example_index = example});
  }
  const std::vector<int64_t> indices = {0, 2};
  const TaskSubset subset = SubsetOfExamples(data, features, indices);
  ASSERT_EQ(subset.data.squad.size(), 2u);
  EXPECT_EQ(subset.data.squad[0].id, "q0");
  EXPECT_EQ(subset.data.squad[1].id, "q2");
  EXPECT_EQ(subset.data.task, Task::kSquad);
  EXPECT_EQ(subset.data.split, Split::kDev);
  EXPECT_EQ(subset.data.path, "dev-v1.1.json");
  EXPECT_TRUE(subset.data.skipped_lines.empty());
  std::vector<std::pair<int64_t, int64_t>> kept;  // (example_index, label)
  for (const Feature& f : subset.features) kept.emplace_back(f.example_index, f.label);
  EXPECT_THAT(kept,
              ElementsAre(std::pair<int64_t, int64_t>{0, 0}, std::pair<int64_t, int64_t>{0, 1},
                          std::pair<int64_t, int64_t>{1, 3}, std::pair<int64_t, int64_t>{1, 4},
                          std::pair<int64_t, int64_t>{1, 5}));
}

TEST(SubsetOfExamples, TakesClassificationExamplesInOrder) {
  TaskData data{.task = Task::kSst2, .split = Split::kDev};
  std::vector<Feature> features;
  for (int64_t i = 0; i < 5; ++i) {
    data.classification.push_back({.text_a = std::to_string(i), .label = i % 2, .line = i + 2});
    features.push_back({.label = i % 2, .example_index = i});
  }
  EXPECT_EQ(NumExamples(data), 5);
  const std::vector<int64_t> indices = {1, 3, 4};
  const TaskSubset subset = SubsetOfExamples(data, features, indices);
  ASSERT_EQ(subset.data.classification.size(), 3u);
  EXPECT_EQ(subset.data.classification[0].text_a, "1");
  EXPECT_EQ(subset.data.classification[2].line, 6);
  ASSERT_EQ(subset.features.size(), 3u);
  for (size_t p = 0; p < 3; ++p) {
    EXPECT_EQ(subset.features[p].example_index, static_cast<int64_t>(p));
    EXPECT_EQ(subset.features[p].label, subset.data.classification[p].label);
  }
}

}  // namespace
}  // namespace istar::tasks

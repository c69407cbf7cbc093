#include "tasks/selection.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace istar::tasks {
namespace {

// Note [Portable selection cut]
// Every trial of a sweep must cut the dev file identically, or compare's choice on "selection"
// would see different examples per trial; and a store may mix trials run by workers built with
// different standard libraries. std::shuffle and std::uniform_int_distribution are specified by
// their results' distribution only, and libstdc++ and libc++ draw different sequences from the
// same engine, so the generator and the shuffle are written out: SplitMix64 (Steele, Lea & Flood
// 2014, Vigna's constants) and Durstenfeld's Fisher-Yates, index j = next() mod (i + 1). The
// modulo's bias, below (i + 1) / 2^64 per draw, is irrelevant for any dev set; rejection
// sampling would make the cut harder to reproduce by hand (docs/training.md does it in five
// lines of Python).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

}  // namespace

absl::StatusOr<SelectionCut> CutForSelection(int64_t n, double fraction, uint64_t seed) {
  if (n < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("a selection cut needs at least 2 examples, got ", n));
  }
  if (!(fraction > 0.0 && fraction < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("selection fraction must be in (0, 1), got ", fraction));
  }
  const auto rounded = static_cast<int64_t>(std::floor(fraction * static_cast<double>(n) + 0.5));
  const int64_t k = std::clamp<int64_t>(rounded, 1, n - 1);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  SplitMix64 generator(seed);
  for (int64_t i = n - 1; i >= 1; --i) {
    const auto j = static_cast<int64_t>(generator.Next() % static_cast<uint64_t>(i + 1));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  SelectionCut cut;
  cut.selection.assign(order.begin(), order.begin() + k);
  cut.report.assign(order.begin() + k, order.end());
  std::sort(cut.selection.begin(), cut.selection.end());
  std::sort(cut.report.begin(), cut.report.end());
  return cut;
}

int64_t NumExamples(const TaskData& data) {
  return static_cast<int64_t>(data.squad.empty() ? data.classification.size() : data.squad.size());
}

TaskSubset SubsetOfExamples(const TaskData& data, const std::vector<Feature>& features,
                            std::span<const int64_t> indices) {
  const int64_t n = NumExamples(data);
  // Position of each example in the subset; -1 when it is not in it.
  std::vector<int64_t> position(static_cast<size_t>(n), -1);
  TaskSubset subset;
  subset.data.task = data.task;
  subset.data.split = data.split;
  subset.data.path = data.path;
  for (size_t p = 0; p < indices.size(); ++p) {
    const int64_t index = indices[p];
    ISTAR_CHECK(index >= 0 && index < n) << "example index " << index << " of " << n;
    ISTAR_CHECK(p == 0 || indices[p - 1] < index) << "example indices must ascend";
    position[static_cast<size_t>(index)] = static_cast<int64_t>(p);
    if (data.squad.empty()) {
      subset.data.classification.push_back(data.classification[static_cast<size_t>(index)]);
    } else {
      subset.data.squad.push_back(data.squad[static_cast<size_t>(index)]);
    }
  }
  for (const Feature& feature : features) {
    ISTAR_CHECK(feature.example_index >= 0 && feature.example_index < n)
        << "feature of example " << feature.example_index << " of " << n;
    const int64_t p = position[static_cast<size_t>(feature.example_index)];
    if (p < 0) continue;
    subset.features.push_back(feature);
    subset.features.back().example_index = p;
  }
  return subset;
}

}  // namespace istar::tasks

// PostprocessSquad: from start/end logits to answer strings.
#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "tasks/task.h"

namespace istar::tasks {
namespace {

// The best answer span found so far for one example.
struct Best {
  float score = 0;
  bool found = false;
  int64_t begin = 0;  // bytes in the context
  int64_t end = 0;
};

// Indices of the n largest logits, largest first; ties keep the lower index first, so the
// result does not depend on the sort implementation.
std::vector<int64_t> TopIndices(std::span<const float> logits, int64_t n) {
  std::vector<int64_t> indices(logits.size());
  std::iota(indices.begin(), indices.end(), 0);
  const auto keep = std::min<size_t>(static_cast<size_t>(n), indices.size());
  std::partial_sort(indices.begin(), indices.begin() + keep, indices.end(),
                    [&](int64_t a, int64_t b) {
                      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
                    });
  indices.resize(keep);
  return indices;
}

// Updates `best` with the valid spans of one feature (see PostprocessSquad in task.h).
void ScanFeature(const Feature& feature, std::span<const float> starts, std::span<const float> ends,
                 int64_t n_best, int64_t max_answer_length, Best& best) {
  const auto in_context = [&](int64_t token) {
    return token < static_cast<int64_t>(feature.context_offsets.size()) &&
           feature.context_offsets[token].first >= 0;
  };
  const std::vector<int64_t> top_ends = TopIndices(ends, n_best);
  for (int64_t start : TopIndices(starts, n_best)) {
    if (!in_context(start)) continue;
    for (int64_t end : top_ends) {
      if (!in_context(end) || end < start || end - start + 1 > max_answer_length) continue;
      const float score = starts[start] + ends[end];
      if (best.found && score <= best.score) continue;
      best = {score, true, feature.context_offsets[start].first,
              feature.context_offsets[end].second};
    }
  }
}

absl::Status CheckInputs(const TaskData& data, const std::vector<Feature>& features,
                         size_t num_start, size_t num_end) {
  if (data.task != Task::kSquad) {
    return absl::InvalidArgumentError(
        absl::StrCat("PostprocessSquad needs SQuAD data, got ", std::string(TaskName(data.task))));
  }
  size_t total = 0;
  for (const Feature& feature : features) {
    total += feature.input_ids.size();
    if (feature.example_index < 0 ||
        feature.example_index >= static_cast<int64_t>(data.squad.size())) {
      return absl::InvalidArgumentError(
          absl::StrCat("feature example_index ", feature.example_index, " is out of range"));
    }
  }
  if (num_start != total || num_end != total) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected ", total, " start and end logits, got ", num_start, " and ", num_end));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<SquadPrediction>> PostprocessSquad(
    const TaskData& data, const std::vector<Feature>& features, std::span<const float> start_logits,
    std::span<const float> end_logits, int64_t n_best, int64_t max_answer_length) {
  if (n_best <= 0 || max_answer_length <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("n_best (", n_best, ") and max_answer_length (",
                                                   max_answer_length, ") must be positive"));
  }
  ISTAR_RETURN_IF_ERROR(CheckInputs(data, features, start_logits.size(), end_logits.size()));
  std::vector<Best> best(data.squad.size());
  size_t offset = 0;
  for (const Feature& feature : features) {
    const size_t length = feature.input_ids.size();
    ScanFeature(feature, start_logits.subspan(offset, length), end_logits.subspan(offset, length),
                n_best, max_answer_length, best[feature.example_index]);
    offset += length;
  }
  std::vector<SquadPrediction> predictions;
  predictions.reserve(data.squad.size());
  for (size_t i = 0; i < data.squad.size(); ++i) {
    const SquadExample& example = data.squad[i];
    std::string text;
    if (best[i].found) text = example.context.substr(best[i].begin, best[i].end - best[i].begin);
    predictions.push_back({example.id, std::move(text)});
  }
  return predictions;
}

}  // namespace istar::tasks

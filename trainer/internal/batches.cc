#include "trainer/internal/batches.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "base/check.h"

namespace istar::trainer::internal {

// Note [Portable shuffle]: std::shuffle's algorithm is unspecified, so the same seed could give
// another order with another standard library; this Fisher-Yates over std::mt19937_64 (whose
// output the standard fixes) gives the same order everywhere.
std::vector<std::vector<int64_t>> EpochBatches(int64_t num_features, int64_t batch_size,
                                               int64_t seed, int64_t epoch, bool shuffle) {
  std::vector<int64_t> order(static_cast<size_t>(num_features));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (shuffle) {
    std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                      static_cast<uint32_t>(epoch), 0x15a7u};
    std::mt19937_64 rng(seq);
    for (size_t i = order.size(); i > 1; --i) {
      std::swap(order[i - 1], order[rng() % i]);
    }
  }
  std::vector<std::vector<int64_t>> batches;
  for (size_t begin = 0; begin < order.size(); begin += static_cast<size_t>(batch_size)) {
    const size_t end = std::min(order.size(), begin + static_cast<size_t>(batch_size));
    batches.emplace_back(order.begin() + begin, order.begin() + end);
  }
  return batches;
}

HostBatch Collate(std::span<const tasks::Feature> features, std::span<const int64_t> indices,
                  int64_t pad_id) {
  HostBatch batch;
  batch.rows = static_cast<int64_t>(indices.size());
  for (int64_t i : indices) {
    batch.cols = std::max<int64_t>(batch.cols, features[i].input_ids.size());
  }
  const size_t cells = static_cast<size_t>(batch.rows * batch.cols);
  batch.input_ids.assign(cells, pad_id);
  batch.attention_mask.assign(cells, 0);
  batch.token_type_ids.assign(cells, 0);
  for (size_t r = 0; r < indices.size(); ++r) {
    const tasks::Feature& f = features[indices[r]];
    const size_t row = r * static_cast<size_t>(batch.cols);
    for (size_t t = 0; t < f.input_ids.size(); ++t) {
      batch.input_ids[row + t] = f.input_ids[t];
      batch.attention_mask[row + t] = 1;
      batch.token_type_ids[row + t] = t < f.token_type_ids.size() ? f.token_type_ids[t] : 0;
    }
    batch.labels.push_back(f.label);
    batch.scores.push_back(f.score);
    batch.start_positions.push_back(f.start_position);
    batch.end_positions.push_back(f.end_position);
    batch.lengths.push_back(static_cast<int64_t>(f.input_ids.size()));
    batch.example_indices.push_back(f.example_index);
  }
  return batch;
}

double LinearScheduleFactor(int64_t step, int64_t warmup_steps, int64_t total_steps) {
  if (step < warmup_steps) {
    return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup_steps));
  }
  const double left = static_cast<double>(total_steps - step);
  return std::max(0.0,
                  left / static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps)));
}

double LearningRateFactor(sweeps::LrSchedule schedule, int64_t step, int64_t warmup_steps,
                          int64_t total_steps) {
  switch (schedule) {
    case sweeps::LrSchedule::kLinear:
      return LinearScheduleFactor(step, warmup_steps, total_steps);
    case sweeps::LrSchedule::kConstant:
      return step < warmup_steps ? LinearScheduleFactor(step, warmup_steps, total_steps) : 1.0;
  }
  ISTAR_CHECK(false) << "unknown learning-rate schedule " << static_cast<int>(schedule);
  return 0.0;
}

}  // namespace istar::trainer::internal

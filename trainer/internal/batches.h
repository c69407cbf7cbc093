// Batching of task features (LibTorch-free): the order of an epoch's batches and the padding of
// one batch into row-major id matrices. The trainer turns a HostBatch into tensors. Also the
// learning-rate schedule, which like the batches' order is a function of the step alone.
#ifndef ISTAR_TRAINER_INTERNAL_BATCHES_H_
#define ISTAR_TRAINER_INTERNAL_BATCHES_H_

#include <cstdint>
#include <span>
#include <vector>

#include "sweeps/sweep.h"
#include "tasks/task.h"

namespace istar::trainer::internal {

// One padded batch; every matrix is row-major [rows, cols].
struct HostBatch {
  int64_t rows = 0;
  int64_t cols = 0;  // the longest feature of the batch (dynamic padding)
  std::vector<int64_t> input_ids;
  std::vector<int64_t> attention_mask;  // 1 for tokens, 0 for padding
  std::vector<int64_t> token_type_ids;
  std::vector<int64_t> labels;           // [rows]
  std::vector<double> scores;            // [rows]: regression targets (STS-B; 0 otherwise)
  std::vector<int64_t> start_positions;  // [rows]: SQuAD answer start token (0 otherwise)
  std::vector<int64_t> end_positions;    // [rows]: SQuAD answer end token (0 otherwise)
  std::vector<int64_t> lengths;          // [rows]: real tokens of each row
  std::vector<int64_t> example_indices;  // [rows]: Feature::example_index
};

// The feature indices of each batch of an epoch: 0..num_features-1 in batches of `batch_size`
// (the last one may be smaller), shuffled when `shuffle` is true by a generator seeded from
// (seed, epoch) alone, so a resumed run sees the same order as an uninterrupted one.
std::vector<std::vector<int64_t>> EpochBatches(int64_t num_features, int64_t batch_size,
                                               int64_t seed, int64_t epoch, bool shuffle);

// Pads the features at `indices` to the longest of them with `pad_id`.
HostBatch Collate(std::span<const tasks::Feature> features, std::span<const int64_t> indices,
                  int64_t pad_id);

// Linear warmup over `warmup_steps` then linear decay to 0 at `total_steps`, as transformers'
// get_linear_schedule_with_warmup: the factor applied to the base learning rate for the step
// that follows `step` steps already taken.
double LinearScheduleFactor(int64_t step, int64_t warmup_steps, int64_t total_steps);

// The factor of training.lr_schedule `schedule` for the step that follows `step` steps already
// taken: kLinear is LinearScheduleFactor; kConstant the same linear warmup over `warmup_steps`,
// then 1 until the end (transformers' get_constant_schedule_with_warmup; with no warmup steps, 1
// throughout).
double LearningRateFactor(sweeps::LrSchedule schedule, int64_t step, int64_t warmup_steps,
                          int64_t total_steps);

}  // namespace istar::trainer::internal

#endif  // ISTAR_TRAINER_INTERNAL_BATCHES_H_

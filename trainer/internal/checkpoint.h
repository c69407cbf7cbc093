// Model loading for a trial and the trainer's epoch checkpoints (docs/training.md, "Checkpoint
// layout"). LibTorch types appear only as forward declarations.
#ifndef ISTAR_TRAINER_INTERNAL_CHECKPOINT_H_
#define ISTAR_TRAINER_INTERNAL_CHECKPOINT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "models/model.h"
#include "tokenizers/tokenizer.h"

namespace torch::optim {
class Optimizer;
}  // namespace torch::optim

namespace istar::trainer::internal {

struct TrialModel {
  std::unique_ptr<models::TaskModel> model;
  std::unique_ptr<tokenizers::Tokenizer> tokenizer;
  bool random_init = false;  // the folder had no weights: drawn from the seed
};

// Loads the model folder `dir` with a head of `num_labels` classes. A folder with config.json but
// no model.safetensors / pytorch_model.bin gives a CreateModel(config, seed) model (the demo
// case). NotFound if the folder holds no tokenizer; the loaders' errors otherwise.
[[nodiscard]] absl::StatusOr<TrialModel> LoadTrialModel(const std::string& dir, models::Head head,
                                                        int64_t num_labels, uint64_t seed);

// Where a checkpoint leaves training: `epoch` epochs and `step` optimizer steps completed.
struct CheckpointState {
  int64_t epoch = 0;
  int64_t step = 0;
};

// Writes <trial_dir>/epoch-<state.epoch>/ (config.json, model.safetensors, optimizer.pt,
// rng.pt, state.json) through a temporary folder renamed into place. Internal on I/O failure.
[[nodiscard]] absl::Status SaveCheckpoint(const std::string& trial_dir,
                                          const CheckpointState& state,
                                          const models::TaskModel& model,
                                          torch::optim::Optimizer& optimizer);

// Restores the latest complete checkpoint of `trial_dir` into `model`, `optimizer` and LibTorch's
// default CPU generator. nullopt if there is none; DataLoss if it does not fit the model.
[[nodiscard]] absl::StatusOr<std::optional<CheckpointState>> RestoreLatestCheckpoint(
    const std::string& trial_dir, models::TaskModel& model, torch::optim::Optimizer& optimizer);

}  // namespace istar::trainer::internal

#endif  // ISTAR_TRAINER_INTERNAL_CHECKPOINT_H_

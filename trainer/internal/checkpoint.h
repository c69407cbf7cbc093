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

namespace at {
class Tensor;
}  // namespace at

namespace torch::optim {
class Optimizer;
}  // namespace torch::optim

namespace istar::trainer::internal {

struct EpochShrinkage;  // trainer/internal/epoch_shrinkage.h

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

// Where a checkpoint leaves training: `epoch` epochs and `step` optimizer steps completed. An
// epoch checkpoint has step = epoch x steps per epoch; a preemption checkpoint (Note
// [Preemption checkpoints] in checkpoint.cc) is taken inside epoch `epoch` (0-based), after
// step - epoch x steps per epoch of its batches.
// The generator states of a worker group, for rank 0's checkpoint.
struct GeneratorStates {
  std::optional<at::Device> cuda;  // the GPU this process trains on; its state is saved too
  at::Tensor cpu_by_rank;          // [R, S] uint8, row r rank r's CPU state; undefined: one process
  at::Tensor cuda_by_rank;         // the same for each rank's GPU generator; undefined on CPUs
};

struct CheckpointState {
  int64_t epoch = 0;
  int64_t step = 0;
  bool mid_epoch = false;
};

// Writes <trial_dir>/epoch-<state.epoch>/ (or step-<state.step>/ when state.mid_epoch) holding
// config.json, model.safetensors, optimizer.pt, rng.pt, shrinkage.pt when `shrinkage` holds an
// S0 (the epoch's S0s, needed to resume inside it: docs/checkpoints.md) and state.json, through
// a temporary folder renamed into place. A new checkpoint supersedes every step-* folder of the
// trial, which it removes. Internal on I/O failure. `generators` says which generators go to rng.pt
// beside this process's own CPU state (Note [Generators of a worker group]); null: that state
// alone.
[[nodiscard]] absl::Status SaveCheckpoint(const std::string& trial_dir,
                                          const CheckpointState& state,
                                          const models::TaskModel& model,
                                          torch::optim::Optimizer& optimizer,
                                          const EpochShrinkage* shrinkage = nullptr,
                                          const GeneratorStates* generators = nullptr);

// Restores the latest complete checkpoint of `trial_dir` (the one with the most steps) into
// `model`, `optimizer`, LibTorch's default CPU generator and, when `device` is a GPU and the
// checkpoint holds a CUDA state, that GPU's default generator (rank `rank`'s states when the
// checkpoint holds one per rank, else the saving process's), and into `*shrinkage` the S0s of its
// shrinkage.pt (those it holds; the others left as they are; may be null). nullopt if there is
// none; DataLoss if it does not fit the model or its state.json is not one of ours.
[[nodiscard]] absl::StatusOr<std::optional<CheckpointState>> RestoreLatestCheckpoint(
    const std::string& trial_dir, models::TaskModel& model, torch::optim::Optimizer& optimizer,
    EpochShrinkage* shrinkage = nullptr, int rank = 0, at::Device device = at::kCPU);

// The state of LibTorch's default generator of `device` (the CPU's, or a GPU's: uint8 [S]), read
// under its lock.
at::Tensor RngState(const at::Device& device);
// Replaces the state of `device`'s default generator with `state` (one RngState returned).
void SetRngState(const at::Device& device, const at::Tensor& state);

}  // namespace istar::trainer::internal

#endif  // ISTAR_TRAINER_INTERNAL_CHECKPOINT_H_

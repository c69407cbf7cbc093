#include "trainer/internal/trial_checkpoints.h"

#include <ATen/ATen.h>

#include <array>
#include <cstddef>
#include <filesystem>
#include <iostream>
#include <span>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "comm/communicator.h"

namespace istar::trainer::internal {

absl::Status TrialCheckpoints::Restore(torch::optim::Optimizer& optimizer) {
  if (ctx_.options.checkpoint_dir.empty()) return absl::OkStatus();
  const sweeps::TrialSpec& trial = ctx_.trial;
  trial_dir_ = (std::filesystem::path(ctx_.options.checkpoint_dir) / trial.id).string();
  ISTAR_ASSIGN_OR_RETURN(
      std::optional<CheckpointState> restored,
      RestoreLatestCheckpoint(trial_dir_, *ctx_.model.model, optimizer, &resumed_shrinkage_,
                              ctx_.group.rank(), ctx_.device));
  if (!restored.has_value()) return absl::OkStatus();
  const int64_t steps_per_epoch = ctx_.steps_per_epoch;
  const int64_t done_in_epoch = restored->step - restored->epoch * steps_per_epoch;
  if (restored->epoch > trial.epochs || done_in_epoch < 0 || done_in_epoch > steps_per_epoch ||
      (restored->mid_epoch && done_in_epoch == steps_per_epoch)) {
    return absl::DataLossError(absl::StrCat(
        trial_dir_, ": the latest checkpoint (epoch ", restored->epoch, ", step ", restored->step,
        ") does not fit this trial (", trial.epochs, " epochs of ", steps_per_epoch, " steps)"));
  }
  start_epoch_ = restored->epoch;
  ctx_.step = restored->step;
  saved_step_ = ctx_.step;
  if (ctx_.leader()) {
    std::cerr << "resuming trial " << trial.id.substr(0, 12) << " from its checkpoint at step "
              << ctx_.step << " (epoch " << start_epoch_ + (restored->mid_epoch ? 1 : 0)
              << (restored->mid_epoch ? ", inside it" : " done") << ")\n";
  }
  return absl::OkStatus();
}

absl::Status TrialCheckpoints::AgreeOnResumePoint() {
  // Every rank restored the latest checkpoint it could see; they must all resume from rank 0's.
  std::array<int64_t, 2> mine = {start_epoch_, ctx_.step};
  std::array<int64_t, 2> root = mine;
  ISTAR_RETURN_IF_ERROR(ctx_.group.Broadcast(std::as_writable_bytes(std::span<int64_t>(root)), 0));
  absl::Status agree;
  if (root != mine) {
    agree = absl::FailedPreconditionError(absl::StrCat(
        "resumes after epoch ", mine[0], " (step ", mine[1], ") but rank 0 after epoch ", root[0],
        " (step ", root[1], "): the checkpoint folder must be one that every rank sees"));
  }
  return comm::AgreeOnStatus(ctx_.group, agree);
}

absl::Status TrialCheckpoints::SaveEpoch(int64_t epoch, torch::optim::Optimizer& optimizer,
                                         ResultSink* sink) {
  if (trial_dir_.empty()) return absl::OkStatus();
  ISTAR_ASSIGN_OR_RETURN(const GeneratorStates generators, GatherGenerators());
  ISTAR_RETURN_IF_ERROR(ctx_.OnLeader([&] {
    return Checkpoint({.epoch = epoch + 1, .step = ctx_.step}, optimizer, nullptr, generators,
                      sink);
  }));
  saved_step_ = ctx_.step;
  return absl::OkStatus();
}

absl::Status TrialCheckpoints::SaveOnStop(int64_t epoch, torch::optim::Optimizer& optimizer,
                                          const EpochShrinkage& shrinkage, ResultSink* sink) {
  if (trial_dir_.empty() || ctx_.step == saved_step_) return absl::OkStatus();
  ISTAR_ASSIGN_OR_RETURN(const GeneratorStates generators, GatherGenerators());
  ISTAR_RETURN_IF_ERROR(ctx_.OnLeader([&]() -> absl::Status {
    const RunOptions& options = ctx_.options;
    if (!options.checkpoint_on_stop || !options.checkpoint_on_stop()) return absl::OkStatus();
    return Checkpoint({.epoch = epoch, .step = ctx_.step, .mid_epoch = true}, optimizer, &shrinkage,
                      generators, sink);
  }));
  saved_step_ = ctx_.step;
  return absl::OkStatus();
}

absl::Status TrialCheckpoints::Checkpoint(const CheckpointState& state,
                                          torch::optim::Optimizer& optimizer,
                                          const EpochShrinkage* shrinkage,
                                          const GeneratorStates& generators, ResultSink* sink) {
  const absl::Status synced = sink->Sync();
  if (absl::IsUnavailable(synced)) {
    std::cerr << "step " << ctx_.step
              << ": checkpoint skipped, rows not yet delivered: " << synced.message() << "\n";
    return absl::OkStatus();
  }
  ISTAR_RETURN_IF_ERROR(synced);
  return SaveCheckpoint(trial_dir_, state, *ctx_.model.model, optimizer, shrinkage, &generators);
}

absl::StatusOr<GeneratorStates> TrialCheckpoints::GatherGenerators() {
  GeneratorStates states;
  if (ctx_.device.is_cuda()) states.cuda = ctx_.device;
  if (ctx_.group.size() == 1) return states;
  ISTAR_ASSIGN_OR_RETURN(states.cpu_by_rank, GatherRngState(at::kCPU));
  if (ctx_.device.is_cuda()) {
    ISTAR_ASSIGN_OR_RETURN(states.cuda_by_rank, GatherRngState(ctx_.device));
  }
  return states;
}

absl::StatusOr<at::Tensor> TrialCheckpoints::GatherRngState(const at::Device& device) {
  // See Note [Generators of a worker group] in checkpoint.cc.
  const at::Tensor mine = RngState(device).contiguous();
  ISTAR_ASSIGN_OR_RETURN(
      const std::vector<std::byte> all,
      comm::AllGatherBytes(
          ctx_.group, std::span<const std::byte>(static_cast<const std::byte*>(mine.data_ptr()),
                                                 static_cast<size_t>(mine.nbytes()))));
  return at::from_blob(const_cast<std::byte*>(all.data()), {ctx_.group.size(), mine.numel()},
                       at::kByte)
      .clone();
}

}  // namespace istar::trainer::internal

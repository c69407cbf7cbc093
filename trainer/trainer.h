// File: trainer/trainer.h
// -----------------------------------------------------------------------------
// Fine-tunes one trial of a sweep in this process: the standalone trainer behind `istar train`
// (docs/training.md). RunTrial loads the trial's model and task data, trains for its epochs with
// the task loss plus its isotropy regularizer (baseline, CosReg or I-STAR), evaluates on every
// evaluation split of the task (dev; MNLI also dev_mismatched) after every epoch, checkpoints,
// and writes its metric and isotropy trajectories, final results and status to the SQLite
// results store (db/store.h). Head, loss and metrics follow the task's kind (tasks/adapter.h).
// This header is LibTorch-free.
//
// The model folder (TrialSpec::model_path) is a Hugging Face checkpoint folder: config.json,
// model.safetensors (or pytorch_model.bin) and a tokenizer (vocab.txt, tokenizer.json or
// spiece.model). A folder with config.json and a tokenizer but NO weights file gives a
// random-initialised model drawn with the trial's seed: the demos' and tests' case.
//
// Example:
//
//   ISTAR_ASSIGN_OR_RETURN(sweeps::TrialSpec trial, trainer::LoadTrialConfig("train.yaml"));
//   ISTAR_ASSIGN_OR_RETURN(trainer::TrialResult result,
//                          trainer::RunTrial(trial, {.db_path = "results.db",
//                                                    .checkpoint_dir = "checkpoints"}));
//   if (result.status == TrialOutcome::kFailed) std::cerr << result.error << "\n";  // "diverged:
//   ..."
//
// Worker groups: every rank of an mpirun job calls RunTrial with the same trial and options and
// its own communicator in RunOptions::group; the ranks train one model together, data parallel,
// and the store holds the same rows as after a one-process run (docs/training.md, "Worker
// groups"). Rank 0 alone opens the store, writes the checkpoints and reports progress.
//
// Thread safety: RunTrial may be called from one thread at a time per process (LibTorch's
// global random generator is seeded and restored by it).
#ifndef ISTAR_TRAINER_TRAINER_H_
#define ISTAR_TRAINER_TRAINER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "db/records.h"
#include "sweeps/sweep.h"

namespace istar::comm {
class Communicator;
}  // namespace istar::comm

namespace istar::trainer {

// How a run that could start ended.
enum class TrialOutcome {
  kDone,     // trained to the end; RunTrial marks the trial done in the store
  kFailed,   // the run failed (TrialResult::error says why); RunTrial marks the trial failed
  kStopped,  // RunOptions::should_stop asked to stop: the trial stays "running" in the store and
             // the next RunTrial resumes from its last checkpoint
};

// "done", "failed", "stopped".
std::string_view TrialOutcomeName(TrialOutcome outcome);

// How a RunTrial call ended (when it could run at all).
struct TrialResult {
  TrialOutcome status = TrialOutcome::kDone;
  std::string error;  // why it failed, e.g. "diverged: loss is nan at step 12"; empty otherwise
  // The scores of the task's first evaluation split, stored as split "validation" ("accuracy",
  // "f1", "pearson", ...: every metric of the task's catalogue row).
  std::map<std::string, double> final_metrics;
  // Every evaluation split's scores, by the split name they are stored under: "validation", and
  // for MNLI also "validation_mismatched" (tasks::StoredSplitName); with training.selection also
  // "selection" and "report", the two parts of "validation" (docs/training.md, "Held-out
  // selection").
  std::map<std::string, std::map<std::string, double>> split_metrics;
  int64_t steps = 0;  // optimizer steps taken, resumed ones included
};

// Progress of a running trial, reported after every optimizer step.
struct Progress {
  int64_t step = 0;                  // steps taken so far
  int64_t total_steps = 0;           // steps of the whole trial
  int64_t epoch = 0;                 // 0-based epoch of the last step
  double loss = 0.0;                 // total loss of the last step
  double examples_per_second = 0.0;  // training throughput since this call started
  double eta_seconds = 0.0;          // estimated time left
};

struct RunOptions {
  // The SQLite results store to write to; created if missing. Required.
  std::string db_path;
  // Checkpoints go to <checkpoint_dir>/<trial id>/epoch-<k>/ after every epoch, and a run resumes
  // from the latest complete one there. Empty: no checkpoints, no resuming.
  std::string checkpoint_dir;
  // Report progress: to `on_progress` when set, else as a plain line on stderr every 10 steps.
  bool progress = true;
  std::function<void(const Progress&)> on_progress;
  // Polled before every step; returning true ends the run with status kStopped (tests of
  // interruption and resuming; a signal handler's flag).
  std::function<bool()> should_stop;
  // Asked on rank 0 when a run stops at a stop request: true writes a preemption checkpoint
  // (<checkpoint_dir>/<trial id>/step-<k>/) of the steps since the last epoch checkpoint, from
  // which the next run resumes inside the epoch. Unset or false: none (a cancelled trial, or a
  // lease now held by another group, which may be writing the same folder).
  std::function<bool()> checkpoint_on_stop;
  // Train in float64 instead of float32 (slower; for comparisons to 1e-10 in tests).
  bool float64 = false;
  // Where this rank's model and batches live: "cpu", "cuda" or "cuda:N" (for a worker group, the
  // device trainer::SetUpGroupDevice chose for this rank, trainer/device.h). CUDA needs a
  // LibTorch built with it (istar's GPU build, docs/building.md; Debian's is CPU-only:
  // FailedPrecondition). A trial whose training.precision is "bf16" needs CUDA (autocast,
  // trainer/autocast.h).
  std::string device = "cpu";
  // The worker group this process is one rank of: a communicator over host memory (MPI), for
  // the group's decisions (agreeing on errors, stop requests, resume points) and, unless
  // `tensor_group` is set, for the tensors of the steps too; alive until RunTrial returns.
  // Null: one process.
  comm::Communicator* group = nullptr;
  // The same ranks over the devices' memory (NCCL; GroupDevice::tensors): the weight broadcast,
  // the gradient buckets, the regularizers' statistics, S0 and the evaluation's reductions go
  // over it, ordered on LibTorch's stream. Null: they go over `group` (CUDA tensors staged
  // through pinned host buffers).
  comm::Communicator* tensor_group = nullptr;
};

// Runs `trial` to its end, as the file comment describes. The trial is submitted to the store
// first (as a one-trial sweep "train:<id prefix>") if the store does not hold it, then marked
// running (a new attempt), and finally done or failed.
//
// Returns a TrialResult for every run that started, including failed ones (a non-finite loss is
// status "failed" with error "diverged: ..."). Returns a Status, without marking the trial, when
// it cannot start: InvalidArgument (empty db_path, precision other than "fp32" on this CPU build,
// regularizer_layers out of range, an unknown task),
// FailedPrecondition (the trial is already done or leased), NotFound (model or data missing),
// and the store's errors. An error after the start (a LibTorch failure, a store write that
// fails) marks the trial failed and is returned as Internal or the store's code.
// In a worker group every rank returns the same result. Errors found before training starts,
// and the store's and checkpoints' errors, are agreed too (comm::IsAgreed is true for them with
// more than one rank); any other error (a LibTorch failure on one rank) is this rank's alone,
// and the caller should end the job (MpiSession::Abort) since the other ranks may be waiting in
// a collective.
[[nodiscard]] absl::StatusOr<TrialResult> RunTrial(const sweeps::TrialSpec& trial,
                                                   const RunOptions& options);

// Where a trial's rows go: the results store (RunTrial), or a coordinator (worker groups).
// Rank 0 of a worker group alone writes. A write that returns an error ends the trial with it.
class ResultSink {
 public:
  virtual ~ResultSink() = default;
  [[nodiscard]] virtual absl::Status WriteMetrics(std::span<const db::MetricRow> rows) = 0;
  [[nodiscard]] virtual absl::Status WriteIsotropy(std::span<const db::IsotropyRow> rows) = 0;
  [[nodiscard]] virtual absl::Status WriteFinalResults(const std::string& trial_id,
                                                       std::span<const db::FinalResult> results) = 0;
  // Called before every checkpoint: a resumed run does not redo the steps before it, so their rows
  // must be stored first. OK when every row written so far is stored; Unavailable when some could
  // not be delivered yet (they stay buffered, and the trainer skips this checkpoint); any other
  // error ends the trial. A sink that writes through at once has nothing to do.
  [[nodiscard]] virtual absl::Status Sync() { return absl::OkStatus(); }
};

// Trains `trial` as RunTrial does, writing its rows to `sink` (non-null on rank 0 of the group,
// null on the other ranks) and nothing else: the caller owns the trial's status (a worker group
// reports it to the coordinator). Returns kDone, kFailed (diverged) or kStopped results like
// RunTrial, the same on every rank; RunTrial's errors otherwise (agreed ones as there).
// options.db_path is not used.
[[nodiscard]] absl::StatusOr<TrialResult> TrainTrial(const sweeps::TrialSpec& trial,
                                                     const RunOptions& options, ResultSink* sink);

// Reads a trial config: a sweep file (docs/sweep-format.md) that must expand to exactly one
// trial, after applying `overrides` as sweeps::LoadSweepText does ("grid.seed=3" means
// seed: [3]). With overrides the file is re-emitted before parsing, so error positions refer to
// the edited text.
// Returns NotFound (no file), InvalidArgument (a malformed override, malformed YAML, the sweep
// loader's errors, or a file that expands to other than 1 trial, saying how many).
[[nodiscard]] absl::StatusOr<sweeps::TrialSpec> LoadTrialConfig(
    const std::string& path, std::span<const std::string> overrides = {});

}  // namespace istar::trainer

#endif  // ISTAR_TRAINER_TRAINER_H_

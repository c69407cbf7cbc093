// File: sweeps/sweep.h
// -----------------------------------------------------------------------------
// Sweep files: one YAML file describes a hyperparameter sweep (models x tasks x regularizers x
// lambda x zeta x batch size x epochs x seeds x learning rates, or N random samples of them), and
// this module turns it into a validated SweepSpec holding the deterministic list of its trials.
// The file format is documented in docs/sweep-format.md; examples are in examples/.
//
// Each trial's identity is the SHA-256 of its canonical configuration (sorted-key JSON of every
// setting that affects its result, but not the sweep's name nor how many ranks run it), so the
// same trial submitted twice, by one sweep or by two, is one trial, and the store never runs a
// finished trial again. This module is LibTorch-free.
//
// Example:
//
//   ISTAR_ASSIGN_OR_RETURN(sweeps::SweepSpec sweep, sweeps::LoadSweepFile("examples/paper.yaml"));
//   for (const sweeps::TrialSpec& trial : sweep.trials) {
//     std::cout << trial.id.substr(0, 12) << " " << trial.model << " " << trial.task << "\n";
//   }
//
// Thread safety: the functions are thread-safe; the structs are plain values.
#ifndef ISTAR_SWEEPS_SWEEP_H_
#define ISTAR_SWEEPS_SWEEP_H_

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace istar::sweeps {

// The regularizers and tasks a sweep may name are the rows of the catalogues (catalog/catalog.h):
// a regularizer's hyperparameters are the axes of its entry in `grid.regularizers`.

// How the learning rate moves over a trial's steps (docs/training.md, "Optimizer and schedule").
enum class LrSchedule {
  kLinear,    // "linear": linear warmup, then linear decay to 0 at the last step
  kConstant,  // "constant": linear warmup, then the grid's learning_rate until the end
};

// The name a sweep file and the canonical configuration give `schedule`: "linear", "constant".
constexpr std::string_view LrScheduleName(LrSchedule schedule) {
  switch (schedule) {
    case LrSchedule::kLinear:
      return "linear";
    case LrSchedule::kConstant:
      return "constant";
  }
  return "";  // not reached: every value is named above
}

// The schedule named `name` (as LrScheduleName gives it), or nullopt for an unknown name.
std::optional<LrSchedule> ParseLrSchedule(std::string_view name);

// Settings fixed for every trial of a sweep: the `training:` section of the file. Every field has
// the default used when the file leaves it out.
struct TrainingSettings {
  int64_t max_seq_length = 256;         // tokens; longer inputs are truncated
  double warmup_ratio = 0.0;            // share of the steps with linear warmup, in [0, 1]
  double weight_decay = 0.0;            // AdamW's decoupled weight decay, >= 0
  std::string precision = "fp32";       // "fp32", "bf16" or "fp16" autocast for the forward pass
  int64_t eval_every_steps = 0;         // evaluate every N steps; 0 = at the end of each epoch
  int64_t isotropy_every_steps = 50;    // log isotropy every N steps, >= 1
  std::vector<int64_t> regularizer_layers;  // layers (1 = first transformer layer) whose hidden
                                            // states feed the regularizer; empty = all of them
  int64_t shrinkage_points = 250'000;   // points for the shrinkage matrix S0 per epoch, >= 2
  int64_t ranks_per_trial = 1;          // MPI ranks of the worker group that runs a trial, >= 1;
                                        // not part of a trial's identity
  int64_t gradient_accumulation_steps = 1;  // micro-batches per optimizer step on each rank, >= 1;
                                            // not part of a trial's identity (the regularizer
                                            // still sees the whole step's points)
  LrSchedule lr_schedule = LrSchedule::kLinear;  // the learning rate after warmup
  std::optional<double> max_grad_norm = 1.0;     // the global gradient norm clipped to before
                                                 // each step, > 0; nullopt ("off"): no clipping
};

// How `istar run --launcher slurm` submits the sweep's worker groups: the file's `launch: slurm:`
// section (docs/sweep-format.md, docs/deploy.md). Nothing here enters a trial's identity. An empty
// string leaves the setting to the cluster's defaults.
struct SlurmSettings {
  std::string partition;         // --partition
  std::string account;           // --account
  std::string time;              // --time, Slurm's format: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S
  int64_t nodes_per_group = 1;   // --nodes of each group, in [1, ranks_per_trial]
  int64_t gpus_per_rank = 0;     // --gpus-per-task; 0: the groups train on CPUs
  int64_t cpus_per_rank = 1;     // --cpus-per-task
  std::string mem;               // --mem per node: an integer with an optional K, M, G or T
  int64_t signal_seconds = 120;  // --signal=B:TERM@N: time to checkpoint before the limit
  std::vector<std::string> extra_args;  // more sbatch options, each "--name" or "--name=value"
  std::vector<std::string> setup;       // shell lines the job runs before srun (module load ...)
};

// The `launch:` section: how worker groups are started on a cluster.
struct LaunchSettings {
  std::optional<SlurmSettings> slurm;  // absent: the defaults of SlurmSettings when asked for
};

// One trial: a point of the sweep. `id` and `canonical_json` are filled by the expansion.
struct TrialSpec {
  std::string id;              // SHA-256 of canonical_json, 64 lower-case hex digits
  std::string canonical_json;  // the configuration as JSON with sorted keys and no whitespace
  std::string model;           // a name from SweepSpec::models
  std::string model_path;      // that model's checkpoint folder
  std::string task;            // a catalogue task (catalog::FindTask)
  std::string task_path;       // that task's data folder
  std::string regularizer = "baseline";  // a catalogue regularizer (catalog::FindRegularizer)
  // The regularizer's hyperparameters (its catalogue row's `parameters`). lambda and zeta have
  // fields of their own because every table groups trials by them (and the database has columns
  // for them); 0 for a regularizer without them. Every other parameter is in `parameters`, by
  // name, with its value (the file's, or the catalogue's default).
  double lambda = 0.0;         // the weight of the regularizer's term; 0 for the baseline
  double zeta = 0.0;           // I-STAR's shrinkage weight in [0, 1]; 0 for the others
  std::map<std::string, double> parameters;
  int64_t batch_size = 32;     // sequences per optimizer step, over all ranks
  int64_t epochs = 4;
  int64_t seed = 0;
  double learning_rate = 1e-5;
  TrainingSettings training;

  // The value of the regularizer's parameter `name`: lambda, zeta or an entry of `parameters`;
  // nullopt when the trial has no such parameter.
  std::optional<double> Parameter(const std::string& name) const;
};

// A validated sweep file and its trials.
struct SweepSpec {
  std::string name;                            // the file's `name:`
  std::string source;                          // the path it was read from (for messages)
  std::string yaml;                            // the file's text, as submitted
  std::map<std::string, std::string> models;   // model name -> checkpoint folder
  std::map<std::string, std::string> tasks;    // task name -> data folder
  TrainingSettings training;
  LaunchSettings launch;                       // the `launch:` section; not part of any trial
  std::vector<TrialSpec> trials;               // in the deterministic expansion order
};

// Reads and validates the sweep file at `path` and expands its trials.
// Returns NotFound if the file cannot be read, InvalidArgument with "path:line:column: field:
// message" for any invalid content (unknown key, wrong type, value out of range, unknown model,
// task or regularizer, empty axis, duplicate key, malformed YAML); Internal only if OpenSSL fails
// to hash a configuration; the SweepSpec otherwise.
[[nodiscard]] absl::StatusOr<SweepSpec> LoadSweepFile(const std::string& path);

// As LoadSweepFile, on YAML text; `source` names it in messages.
[[nodiscard]] absl::StatusOr<SweepSpec> ParseSweep(const std::string& yaml,
                                                   const std::string& source);

// Reads the sweep file at `path` and applies `overrides`, each "key.path=value": map keys joined
// by dots (missing maps are created), the value read as YAML; a scalar given for a list (an axis
// such as grid.seed) becomes a one-element list. Without overrides the text is returned as
// written (so error positions refer to the user's lines); with them the file is re-emitted.
// NotFound (no file); InvalidArgument (a malformed override or malformed YAML).
[[nodiscard]] absl::StatusOr<std::string> LoadSweepText(
    const std::string& path, std::span<const std::string> overrides = {});

// The trial whose canonical configuration (TrialSpec::canonical_json) is `canonical_json` and
// whose id is `trial_id`: how a worker group reads a leased trial (docs/protocol.md, LeaseTrial).
// The settings outside a trial's identity (training.ranks_per_trial and
// gradient_accumulation_steps) keep their defaults: the caller sets them from the lease.
// InvalidArgument, naming the key, when the text is not a canonical configuration of this
// istar's format (a missing, extra or mistyped key, an unknown regularizer, text that does not
// re-encode to itself), or when its SHA-256 is not `trial_id`.
[[nodiscard]] absl::StatusOr<TrialSpec> TrialFromCanonicalJson(std::string_view trial_id,
                                                               std::string_view canonical_json);

}  // namespace istar::sweeps

#endif  // ISTAR_SWEEPS_SWEEP_H_

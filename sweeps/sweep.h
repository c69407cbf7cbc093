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

#include <cstddef>
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

// Which positions of a batch enter the point cloud of the regularizers and the logged measures.
enum class PointCloudPadding {
  kExclude,  // "exclude": only the real tokens (attention mask 1)
  kInclude,  // "include": every position, padding too (the published I-STAR code's behaviour)
};

// Over which points a regularizer's statistics (covariance, cosines) are taken in a worker group.
enum class IsotropyScope {
  kGlobal,   // "global": the whole step's batch of all ranks (statistics all-reduced)
  kPerRank,  // "per_rank": each rank's own shard, as one GPU of the published code sees it
};

// Which training examples the epoch's S0 (I-STAR's shrinkage matrix) is estimated from.
enum class ShrinkageSample {
  kFirst,     // "first": the first examples of the training file, the same every epoch
  kShuffled,  // "shuffled": the first examples of the epoch's shuffled order
};

// The names a sweep file and the canonical configuration give the values of the three options
// above, indexed by the enum's value (its first name is the default).
inline constexpr std::string_view kPointCloudPaddingNames[] = {"exclude", "include"};
inline constexpr std::string_view kIsotropyScopeNames[] = {"global", "per_rank"};
inline constexpr std::string_view kShrinkageSampleNames[] = {"first", "shuffled"};

// The name of `value` in its table above: OptionName(IsotropyScope::kPerRank,
// kIsotropyScopeNames) is "per_rank".
template <typename Enum, size_t N>
constexpr std::string_view OptionName(Enum value, const std::string_view (&names)[N]) {
  return names[static_cast<size_t>(value)];
}

// The value named `name` in `names`, or nullopt for an unknown name.
template <typename Enum, size_t N>
constexpr std::optional<Enum> ParseOption(std::string_view name,
                                          const std::string_view (&names)[N]) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == name) return static_cast<Enum>(i);
  }
  return std::nullopt;
}

// `training.selection`: the dev set (a task's first evaluation split) cut in two,
// deterministically, so that a sweep's group can be chosen on one part ("selection") and reported
// on the other
// ("report"); docs/training.md, "Held-out selection".
struct SelectionSplit {
  double fraction = 0.5;  // share of the examples in the selection part, in (0, 1)
  int64_t seed = 0;       // the permutation's seed, shared by every trial of the sweep
  bool operator==(const SelectionSplit&) const = default;
};

// regularizer_layers' stand-in for "the model's last layer" (`last` in a sweep file), resolved when
// the model is loaded: one file covers 12- and 6-layer models.
inline constexpr int64_t kLastLayer = -1;

// Settings fixed for every trial of a sweep: the `training:` section of the file, which a model's
// or a task's entry may override (docs/sweep-format.md, "Settings per model and per task"). Every
// field has the default used when the file leaves it out. The fields after max_grad_norm enter a
// trial's canonical configuration only when they differ from their defaults, so trial ids of files
// that do not use them never change (Note [Canonical trial configuration]).
struct TrainingSettings {
  int64_t max_seq_length = 256;       // tokens; longer inputs are truncated
  double warmup_ratio = 0.0;          // share of the steps with linear warmup, in [0, 1]
  double weight_decay = 0.0;          // AdamW's decoupled weight decay, >= 0
  std::string precision = "fp32";     // "fp32", "bf16" or "fp16" autocast for the forward pass
  int64_t eval_every_steps = 0;       // evaluate every N steps; 0 = at the end of each epoch
  int64_t isotropy_every_steps = 50;  // log isotropy every N steps, >= 1
  std::vector<int64_t> regularizer_layers;  // layers (1 = first transformer layer; kLastLayer =
                                            // the last) whose hidden states feed the regularizer;
                                            // empty = the regularizer's default (all, or the last)
  int64_t shrinkage_points = 250'000;       // points for the shrinkage matrix S0 per epoch, >= 2
  int64_t ranks_per_trial = 1;  // MPI ranks of the worker group that runs a trial, >= 1;
                                // not part of a trial's identity
  int64_t gradient_accumulation_steps = 1;  // micro-batches per optimizer step on each rank, >= 1;
                                            // not part of a trial's identity (the regularizer
                                            // still sees the whole step's points)
  LrSchedule lr_schedule = LrSchedule::kLinear;  // the learning rate after warmup
  std::optional<double> max_grad_norm = 1.0;     // the global gradient norm clipped to before
                                                 // each step, > 0; nullopt ("off"): no clipping
  std::optional<int64_t> doc_stride;             // SQuAD's window overlap in tokens, >= 1;
                                                 // nullopt: min(128, max_seq_length / 3)
  std::optional<SelectionSplit> selection;       // nullopt: the dev set is not cut
  PointCloudPadding point_cloud_padding = PointCloudPadding::kExclude;
  IsotropyScope isotropy_scope = IsotropyScope::kGlobal;
  bool segment_ids = true;  // sentence pairs get token type ids 0/1; false: all 0
  ShrinkageSample shrinkage_sample = ShrinkageSample::kFirst;
  // The zeta of the logged IsoScore* (isotropy rows' isoscore_star, every regularizer alike),
  // with each layer's own S0, in [0, 1]: one value for the whole sweep, so trajectories compare.
  double evaluation_zeta = 0.75;
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
  double lambda = 0.0;  // the weight of the regularizer's term; 0 for the baseline
  double zeta = 0.0;    // I-STAR's shrinkage weight in [0, 1]; 0 for the others
  std::map<std::string, double> parameters;
  int64_t batch_size = 32;  // sequences per optimizer step, over all ranks
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
  std::string name;                           // the file's `name:`
  std::string source;                         // the path it was read from (for messages)
  std::string yaml;                           // the file's text, as submitted
  std::map<std::string, std::string> models;  // model name -> checkpoint folder
  std::map<std::string, std::string> tasks;   // task name -> data folder
  TrainingSettings training;
  LaunchSettings launch;          // the `launch:` section; not part of any trial
  std::vector<TrialSpec> trials;  // in the deterministic expansion order
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

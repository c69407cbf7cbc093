// File: db/records.h
// -----------------------------------------------------------------------------
// The plain values that go into the results store (db/store.h) and come out of it: metric,
// isotropy and final-result rows, a trial's record, the comparison table. They mirror the tables
// of docs/database.md; every field says its unit and its column.
//
// Example:
//
//   std::vector<db::MetricRow> rows = {
//       {.trial_id = id, .step = 100, .epoch = 0.25, .split = "train", .name = "loss",
//        .value = 0.41}};
//   ISTAR_RETURN_IF_ERROR(store->WriteMetrics(rows));
//
// Thread safety: plain values; no shared state.
#ifndef ISTAR_DB_RECORDS_H_
#define ISTAR_DB_RECORDS_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "db/stats.h"
#include "sweeps/sweep.h"

namespace istar::db {

// Milliseconds since the Unix epoch (UTC): the unit of every *_at column.
using Timestamp = ::istar::Timestamp;

// Where a trial is in its life (docs/database.md, "Trial states"). The strings are the values
// of trials.status.
enum class TrialStatus {
  kPending,    // "pending": waiting for a worker
  kLeased,     // "leased": a worker group holds its lease (coordinator)
  kRunning,    // "running": training
  kDone,       // "done": finished; never runs again
  kFailed,     // "failed": the last attempt failed (trials.error says why)
  kCancelled,  // "cancelled": withdrawn by the user
};

// "pending", "leased", "running", "done", "failed", "cancelled".
std::string_view TrialStatusName(TrialStatus status);
// The inverse of TrialStatusName; nullopt for any other string.
std::optional<TrialStatus> ParseTrialStatus(std::string_view name);

// One value of a trial's metric trajectory: table `metrics`. (trial_id, step, split, name) is
// the key: writing the same key again replaces the value (and epoch).
struct MetricRow {
  std::string trial_id;  // a trial in the store (TrialSpec::id)
  int64_t step = 0;      // optimizer steps taken when it was measured, >= 0
  double epoch = 0.0;    // epochs completed at that step; fractional within an epoch
  std::string split;     // "train", "validation", "test", ...; not empty
  std::string name;      // "loss", "accuracy", "f1", "lr", ...; not empty
  double value = 0.0;    // finite
};

// The isotropy of one layer (or of the union of layers) at one step: table `isotropy`.
// (trial_id, step, layer) is the key.
struct IsotropyRow {
  // Layer numbers: 0 is the embedding output, 1..L the transformer layers, and kUnionLayer the
  // point cloud of all layers together (the cloud I-STAR regularizes).
  static constexpr int64_t kUnionLayer = -1;

  std::string trial_id;
  int64_t step = 0;
  double epoch = 0.0;
  int64_t layer = kUnionLayer;
  double isoscore_star = 0.0;   // IsoScore* at the sweep's evaluation_zeta with the layer's own
                                // S0 (docs/database.md), in [0, 1]
  double isoscore = 0.0;        // IsoScore* with zeta = 0 (plain IsoScore)
  double avg_cosine = 0.0;      // mean pairwise cosine similarity, in [-1, 1]
  std::optional<double> twonn;  // TwoNN intrinsic dimension; nullopt when not measured
};

// One number of a trial's final evaluation: table `final_results`, key (trial_id, split, name).
struct FinalResult {
  std::string split;  // "validation" is what `istar compare` reads
  std::string name;   // "accuracy", "f1", "exact_match", ...
  double value = 0.0;
};

// What SubmitSweep did.
struct SubmitResult {
  std::string sweep_id;            // see Note [Sweep ids] in docs/database.md
  bool sweep_was_present = false;  // the same sweep (name and trials) had been submitted before
  int64_t trials_total = 0;        // distinct trials in the sweep
  int64_t trials_added = 0;        // of which new to the store, now pending
  int64_t trials_present = 0;      // of which already stored (by this or another sweep), untouched
  int64_t trials_done = 0;         // of the present ones, already done: they will not run again
};

// A trial as stored, with its final results.
struct TrialRecord {
  std::string id;
  std::string canonical_json;
  std::string model;
  std::string task;
  std::string regularizer;  // as stored: a catalogue name (or a newer istar's, shown as is)
  double lambda = 0.0;
  double zeta = 0.0;
  // The regularizer's other parameters (vicreg's gamma, ...), from canonical_json: the keys of
  // its catalogue row but lambda and zeta; empty for a regularizer without any.
  std::map<std::string, double> parameters;
  int64_t batch_size = 0;
  int64_t epochs = 0;
  int64_t seed = 0;
  double learning_rate = 0.0;
  int64_t ranks = 1;  // MPI ranks of the worker group that runs it
  TrialStatus status = TrialStatus::kPending;
  int64_t attempts = 0;  // attempts started so far
  std::optional<std::string> worker_id;
  Timestamp created_at{};
  std::optional<Timestamp> started_at;     // of the latest attempt
  std::optional<Timestamp> finished_at;    // when it became done or failed
  std::optional<std::string> error;        // why the latest attempt failed
  std::vector<FinalResult> final_results;  // sorted by (split, name)
};

// ---- The coordinator's records (docs/database.md, "Leases").

// A worker group as the coordinator knows it: table `workers`.
struct WorkerRecord {
  std::string id;    // chosen by the worker group (e.g. "host-4711"), unique
  std::string host;  // where rank 0 runs, for people reading the table
  Timestamp registered_at{};
  Timestamp last_seen_at{};
  int64_t consecutive_failures = 0;  // infrastructure failures since its last success
  bool quarantined = false;          // leases are refused
};

// When leases end and what follows: the coordinator's policy, passed to each lease operation.
struct LeasePolicy {
  // How long a lease lasts without a heartbeat.
  std::chrono::milliseconds ttl{30'000};
  // Attempts a trial may start; a trial whose lease expires (or which fails retryably) on its
  // last attempt becomes failed instead of pending again.
  int64_t max_attempts = 3;
  // Infrastructure failures in a row (expired leases, failures marked so) after which a worker
  // is quarantined. 0 never quarantines.
  int64_t quarantine_after = 3;
};

// A trial leased to a worker group: what it needs to run it and to prove it still owns it.
struct Lease {
  std::string trial_id;
  std::string canonical_json;  // the trial's configuration (sweeps::TrialFromCanonicalJson)
  // The settings outside the trial's identity, from the first submitted sweep holding it.
  int64_t ranks_per_trial = 1;
  int64_t gradient_accumulation_steps = 1;
  // That sweep's YAML: only for workers older than the two fields above, which read the trial
  // from it (docs/protocol.md, "Compatibility"); istar's worker reads canonical_json.
  std::string sweep_yaml;
  // Attempts counted against LeasePolicy::max_attempts, this one included: 1 for the first. A
  // requeued attempt is not counted, so the attempts table's row number may be higher.
  int64_t attempt = 0;
  std::string lease_id;  // 32 random hex digits, unique per lease
  // Strictly increasing per trial across leases: every later report must carry it, and a report
  // with an older token changes nothing (FailedPrecondition).
  int64_t fencing_token = 0;
  Timestamp expires_at{};
};

// What a heartbeat tells the worker group.
enum class LeaseState {
  kActive,     // the lease was extended: go on
  kCancelled,  // the trial was cancelled: stop, report nothing more
};

// How a leased trial ends when it does not end done.
struct LeaseFailure {
  std::string error;            // why, kept in trials.error and attempts.error
  bool retryable = false;       // true: back to pending if attempts remain (e.g. out of memory)
  bool infrastructure = false;  // true: counts against the worker (quarantine), not the trial
  bool requeue = false;         // preempted (SIGTERM): back to pending, the attempt not counted
};

// A sweep and how far its trials have come.
struct SweepProgress {
  std::string id;
  std::string name;
  Timestamp submitted_at{};
  int64_t trial_count = 0;
  // Trials per status; statuses with none are absent.
  std::map<TrialStatus, int64_t> by_status;
};

// True for the statuses a trial ends in: done, failed, cancelled.
bool IsFinished(TrialStatus status);
// How many of the sweep's trials have finished (IsFinished).
int64_t FinishedTrials(const SweepProgress& progress);

// Which trials ListTrials returns. Within a field the values are alternatives (OR); the fields
// combine with AND; an empty field does not filter.
struct TrialFilter {
  std::vector<std::string> sweeps;     // sweep names, ids or id prefixes
  std::vector<std::string> trial_ids;  // trial ids or id prefixes (lower-case hex)
  std::vector<TrialStatus> statuses;
  std::vector<std::string> models;
  std::vector<std::string> tasks;
  std::vector<std::string> regularizers;  // catalogue names
  std::vector<double> lambdas;
  std::vector<double> zetas;
  std::vector<double> learning_rates;
  std::vector<int64_t> batch_sizes;
  std::vector<int64_t> epochs;
  std::vector<int64_t> seeds;
};

// A trial's trajectories, each ordered by step (then split and name, or layer).
struct Trajectories {
  std::vector<MetricRow> metrics;
  std::vector<IsotropyRow> isotropy;
};

// The result of RunReadOnlyQuery: column names and rows of values as SQLite prints them.
struct QueryValue {
  enum class Kind { kNull, kInteger, kReal, kText, kBlob };
  Kind kind = Kind::kNull;
  std::string text;  // "" for NULL; a real as SQLite's "%!.15g"; a blob as "x'0a1b'"
};
struct QueryResult {
  std::vector<std::string> columns;
  std::vector<std::vector<QueryValue>> rows;
};

// How Compare builds its table (docs/database.md, "The comparison table").
struct CompareOptions {
  std::vector<std::string> sweeps;  // only trials of these sweeps (names, ids, id prefixes)
  std::string metric;               // final_results.name; empty = each task's primary metric
  // final_results.name on which each cell's group is chosen (by its mean on selection_split);
  // empty = `metric`. The paper's protocol for its isotropy tables: choose on the task metric
  // (select_metric "accuracy"), report an isotropy measure (metric "cls_isoscore_star").
  std::string select_metric;
  // final_results.split whose scores the table reports.
  std::string split = "validation";
  // final_results.split on which each cell's group is chosen; empty = `split` itself. Choosing
  // and reporting on the same scores biases the chosen cell upwards (Note [Choosing a cell's
  // hyperparameters] in db/internal/compare.cc); a held-out pair of splits does not.
  std::string selection_split;
  // Of select_metric (metric without one): false for a loss, the best group has the lowest mean.
  bool higher_is_better = true;
  double confidence = 0.95;      // of the intervals on the difference, in (0, 1)
  // A group is a candidate only with at least this many scored seeds; nullopt = the most seeds
  // any group of the cell has (so a lucky group with fewer seeds cannot win). At least 1.
  std::optional<int64_t> min_seeds;
  // Each diverged trial (failed with an error starting "diverged") counts as a seed scoring the
  // worst value of its (model, task) row's done trials, on each split, instead of being left out.
  bool diverged_as_worst = false;
};

// The hyperparameters that identify a group of seeds within a (model, task, regularizer) cell.
struct Hyperparameters {
  double lambda = 0.0;
  double zeta = 0.0;
  // The regularizer's other parameters (vicreg's gamma, ...), read from the trial's canonical
  // configuration; empty for baseline, cosreg and istar.
  std::map<std::string, double> parameters;
  double learning_rate = 0.0;
  int64_t batch_size = 0;
  int64_t epochs = 0;
  // Every other setting of the trial's canonical configuration (training.max_seq_length, ...)
  // whose value is not the same in all groups of the cell: key -> the value as JSON text. Groups
  // differ in some setting, always; only the differing ones are listed.
  std::map<std::string, std::string> settings;
  friend auto operator<=>(const Hyperparameters&, const Hyperparameters&) = default;
};

// A difference of means with its confidence intervals.
struct Difference {
  double difference = 0.0;    // this cell's mean minus the baseline's
  std::optional<double> low;  // Welch interval bounds; nullopt when either side has < 2 seeds
  std::optional<double> high;
  std::optional<double> df;  // Welch-Satterthwaite degrees of freedom
  // The paired interval over the seeds both chosen groups have (db::PairedInterval); nullopt
  // with fewer than 2 shared seeds.
  std::optional<PairedResult> paired;
};

// One (model, task, regularizer) cell: its best hyperparameter group, summarized over seeds.
struct ComparisonCell {
  Hyperparameters chosen;
  int64_t groups = 0;      // hyperparameter groups of the cell with a scored or failed trial
  int64_t candidates = 0;  // groups with at least min_seeds scored seeds
  int64_t min_seeds = 0;   // the bound that was applied
  int64_t seeds = 0;       // scored seeds of the chosen group (diverged ones included when counted)
  int64_t diverged = 0;    // diverged trials of the chosen group
  int64_t failed = 0;      // other failed trials of the chosen group (never scored)
  double mean = 0.0;       // over the chosen group's seeds, on the reported split
  std::optional<double> stddev;  // sample standard deviation (n - 1); nullopt when seeds < 2
  std::vector<double> values;    // the chosen group's reported values, ordered by seed
  std::vector<int64_t> seed_ids;  // their seeds
  // Every trial of the chosen group, done and failed, ordered by seed (what `istar report` plots
  // for the cell).
  std::vector<std::string> trial_ids;
  // The chosen group's mean on the selection split (equal to `mean` without a held-out split).
  double selection_mean = 0.0;
  std::optional<Difference> vs_baseline;  // nullopt for the baseline itself or with no baseline
};

// Groups of one cell that show the same hyperparameters and differ only in other settings: they
// are compared as separate groups, and listed here so that the table says so.
struct GroupCollision {
  std::string model;
  std::string task;
  std::string regularizer;
  Hyperparameters shown;            // the shared hyperparameters (settings empty)
  std::vector<std::string> differ;  // the settings' keys in which the groups differ
  int64_t groups = 0;
};

struct ComparisonRow {
  std::string model;
  std::string task;
  std::string metric;                                // the metric compared in this row
  std::string select_metric;                         // the metric its groups are chosen on
  std::vector<std::optional<ComparisonCell>> cells;  // one per ComparisonTable::regularizers
};

struct ComparisonTable {
  std::string split;            // reported
  std::string selection_split;  // chosen on (== split without a held-out selection)
  double confidence = 0.95;
  bool diverged_as_worst = false;
  std::vector<std::string> regularizers;  // columns present, in the catalogue's order
  std::vector<ComparisonRow> rows;        // sorted by (model, task)
  std::vector<GroupCollision> collisions;
};

}  // namespace istar::db

#endif  // ISTAR_DB_RECORDS_H_

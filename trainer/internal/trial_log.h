// What one trial reports (docs/training.md, "Metrics"): the train rows of its logged steps
// (losses, learning rate, isotropy), its evaluations, each epoch's peak GPU memory, and its
// progress and throughput for the command line.
#ifndef ISTAR_TRAINER_INTERNAL_TRIAL_LOG_H_
#define ISTAR_TRAINER_INTERNAL_TRIAL_LOG_H_

#include <ATen/core/Tensor.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/internal/epoch_shrinkage.h"
#include "trainer/internal/trial_context.h"
#include "trainer/internal/trial_data.h"
#include "trainer/loss.h"
#include "trainer/trainer.h"

namespace istar::trainer::internal {

// Each evaluation split's scores, keyed by the split name they are stored under
// (tasks::StoredSplitName: "validation", MNLI's "validation_mismatched").
using SplitScores = std::map<std::string, std::map<std::string, double>>;

// Uses `ctx` and `data`, which must outlive it. Rank 0 alone writes rows to the sink (the other
// ranks pass null) and reports progress; the methods that write rows are collectives, since
// the write's outcome is the group's (TrialContext::OnLeader). May throw c10::Error.
class TrialLog {
 public:
  TrialLog(TrialContext& ctx, const TrialData& data) : ctx_(ctx), data_(data) {}
  TrialLog(const TrialLog&) = delete;
  TrialLog& operator=(const TrialLog&) = delete;

  // At the start of an epoch: a new peak GPU memory (Note [Peak GPU memory] in trial_log.cc).
  void StartEpoch();
  // The train rows of the step just taken (ctx.step not yet advanced): its losses, `lr`, and the
  // isotropy measures of `cloud` (every layer 1..L, of this rank) per layer and over their union,
  // IsoScore* at training.evaluation_zeta with each one's own S0 of `shrinkage` (Note [Comparable
  // isotropy rows] in trial_log.cc).
  [[nodiscard]] absl::Status LogStep(const PointCloud& cloud, const StepLoss& loss, double lr,
                                     const EpochShrinkage& shrinkage, ResultSink* sink);
  // Scores every evaluation split and writes its metric rows. A collective.
  [[nodiscard]] absl::StatusOr<SplitScores> Evaluate(ResultSink* sink);
  // Rank 0 writes the epoch's peak GPU memory over the ranks (GPUs only). A collective.
  [[nodiscard]] absl::Status LogPeakGpuMemory(ResultSink* sink);
  // Counts a step's examples (over the whole group) for the throughput.
  void CountExamples(int64_t rows) { examples_seen_ += rows; }
  // Rank 0, when RunOptions::progress: the step, `loss` and the throughput, to
  // RunOptions::on_progress or as a line on stderr.
  void ReportProgress(int64_t epoch, double loss);

 private:
  using Clock = std::chrono::steady_clock;

  TrialContext& ctx_;
  const TrialData& data_;
  int64_t examples_seen_ = 0;  // by the whole group, for the throughput
  Clock::time_point started_ = Clock::now();
};

}  // namespace istar::trainer::internal

#endif  // ISTAR_TRAINER_INTERNAL_TRIAL_LOG_H_

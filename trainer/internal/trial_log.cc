#include "trainer/internal/trial_log.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <iostream>
#include <span>
#include <utility>
#include <vector>

#include "base/check.h"
#include "base/status_macros.h"
#include "trainer/internal/evaluate.h"
#include "trainer/internal/gpu_memory.h"

namespace istar::trainer::internal {
namespace {

constexpr int64_t kPlainProgressEvery = 10;

}  // namespace

void TrialLog::StartEpoch() { ResetPeakGpuMemory(ctx_.device); }

// Note [Comparable isotropy rows]
// Every trial logs the same measures, whatever its regularizer, so that trajectories compare
// across trials: rows for every transformer layer 1..L and for the union of all L layers (layer
// -1), not only the layers the regularizer reads; IsoScore (zeta 0); and IsoScore* at the
// sweep-wide training.evaluation_zeta, not the trial's own zeta, each row shrunk towards its own
// points' S0 (layer l's for layer l, the all-layer union's for layer -1), so that a layer's row
// does not depend on which other layers are logged or regularized. All over every rank's points.
absl::Status TrialLog::LogStep(const PointCloud& cloud, const StepLoss& loss, double lr,
                               const EpochShrinkage& shrinkage, ResultSink* sink) {
  const sweeps::TrialSpec& trial = ctx_.trial;
  const int64_t step = ctx_.step;
  const double epoch = ctx_.EpochPosition();
  std::vector<db::MetricRow> metrics;
  auto metric = [&](const char* name, double value) {
    metrics.push_back({.trial_id = trial.id,
                       .step = step,
                       .epoch = epoch,
                       .split = "train",
                       .name = name,
                       .value = value});
  };
  metric("loss", loss.total.item<double>());
  metric("task_loss", loss.task.item<double>());
  metric("regularizer", loss.regularizer.item<double>());
  metric("lr", lr);
  std::vector<db::IsotropyRow> rows;
  const double zeta = trial.training.evaluation_zeta;
  auto measure = [&](int64_t layer, const at::Tensor& points,
                     const at::Tensor& s0) -> absl::Status {
    ISTAR_ASSIGN_OR_RETURN(IsotropyMeasures m, MeasureIsotropy(points, zeta, s0, ctx_.ranks));
    rows.push_back({.trial_id = trial.id,
                    .step = step,
                    .epoch = epoch,
                    .layer = layer,
                    .isoscore_star = m.isoscore_star,
                    .isoscore = m.isoscore,
                    .avg_cosine = m.avg_cosine});
    return absl::OkStatus();
  };
  ISTAR_ASSIGN_OR_RETURN(const double tokens, ctx_.SumOverRanks(static_cast<double>(cloud.tokens)));
  if (tokens >= 2) {
    const int64_t num_layers = ctx_.model.model->config().num_hidden_layers;
    ISTAR_CHECK(static_cast<int64_t>(cloud.layers.size()) == num_layers &&
                (zeta == 0.0 || shrinkage.logged()))
        << "the logged cloud and S0s must cover every layer";
    for (size_t k = 0; k < cloud.layers.size(); ++k) {
      const auto begin = static_cast<int64_t>(k) * cloud.tokens;
      const int64_t layer = cloud.layers[k];
      ISTAR_CHECK(layer == static_cast<int64_t>(k) + 1);
      ISTAR_RETURN_IF_ERROR(measure(layer, cloud.points.slice(0, begin, begin + cloud.tokens),
                                    zeta > 0.0 ? shrinkage.layers[k] : at::Tensor()));
    }
    ISTAR_RETURN_IF_ERROR(
        measure(db::IsotropyRow::kUnionLayer, cloud.points, shrinkage.all_layers));
  }
  return ctx_.OnLeader([&]() -> absl::Status {
    ISTAR_RETURN_IF_ERROR(sink->WriteMetrics(metrics));
    return rows.empty() ? absl::OkStatus() : sink->WriteIsotropy(rows);
  });
}

absl::StatusOr<SplitScores> TrialLog::Evaluate(ResultSink* sink) {
  SplitScores splits;
  std::vector<db::MetricRow> rows;
  for (const EvalSplit& split : data_.eval_splits()) {
    ISTAR_ASSIGN_OR_RETURN(tasks::Scores scores,
                           EvaluateSplit(*ctx_.model.model, ctx_.adapter, split.data,
                                         split.features, data_.pad_id(), ctx_.group, ctx_.tensors));
    for (const auto& [name, value] : scores.values) {
      rows.push_back({.trial_id = ctx_.trial.id,
                      .step = ctx_.step,
                      .epoch = ctx_.EpochPosition(),
                      .split = split.stored_name,
                      .name = name,
                      .value = value});
    }
    splits[split.stored_name] = std::move(scores.values);
  }
  ISTAR_RETURN_IF_ERROR(ctx_.OnLeader([&] { return sink->WriteMetrics(rows); }));
  return splits;
}

// Note [Peak GPU memory]: the largest of the ranks' peaks, since the epoch began (S0, training
// and evaluation), as the metric row train/peak_gpu_memory_bytes at the epoch's last step: what
// a user sizes batch_size and gradient_accumulation_steps by. Not written on CPUs.
absl::Status TrialLog::LogPeakGpuMemory(ResultSink* sink) {
  if (!ctx_.device.is_cuda()) return absl::OkStatus();
  comm::Communicator& group = ctx_.group;
  std::vector<double> peaks(static_cast<size_t>(group.size()), 0.0);
  peaks[static_cast<size_t>(group.rank())] =
      static_cast<double>(PeakGpuMemory(ctx_.device).value_or(0));
  if (group.size() > 1) ISTAR_RETURN_IF_ERROR(group.AllReduceSum(std::span<double>(peaks)));
  const db::MetricRow row{.trial_id = ctx_.trial.id,
                          .step = ctx_.step,
                          .epoch = ctx_.EpochPosition(),
                          .split = "train",
                          .name = "peak_gpu_memory_bytes",
                          .value = *std::max_element(peaks.begin(), peaks.end())};
  return ctx_.OnLeader([&] { return sink->WriteMetrics(std::span<const db::MetricRow>(&row, 1)); });
}

void TrialLog::ReportProgress(int64_t epoch, double loss) {
  const RunOptions& options = ctx_.options;
  if (!options.progress || !ctx_.leader()) return;
  const int64_t step = ctx_.step;
  const int64_t total_steps = ctx_.total_steps;
  const double seconds = std::chrono::duration<double>(Clock::now() - started_).count();
  const double rate = seconds > 0 ? static_cast<double>(examples_seen_) / seconds : 0.0;
  const double steps_per_second = seconds > 0
                                      ? static_cast<double>(examples_seen_) /
                                            static_cast<double>(ctx_.trial.batch_size) / seconds
                                      : 0.0;
  const Progress progress{
      .step = step,
      .total_steps = total_steps,
      .epoch = epoch,
      .loss = loss,
      .examples_per_second = rate,
      .eta_seconds =
          steps_per_second > 0 ? static_cast<double>(total_steps - step) / steps_per_second : 0.0};
  if (options.on_progress) {
    options.on_progress(progress);
  } else if (step % kPlainProgressEvery == 0 || step == total_steps) {
    std::cerr << "step " << step << "/" << total_steps << " epoch " << epoch << " loss " << loss
              << " " << static_cast<int64_t>(rate) << " examples/s\n";
  }
}

}  // namespace istar::trainer::internal

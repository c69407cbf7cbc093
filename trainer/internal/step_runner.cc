#include "trainer/internal/step_runner.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "catalog/catalog.h"
#include "regularizers/isotropy.h"
#include "trainer/autocast.h"
#include "trainer/internal/batches.h"
#include "trainer/internal/evaluate.h"
#include "trainer/internal/optimizer.h"
#include "trainer/internal/task_head.h"

namespace istar::trainer::internal {

StepRunner::StepRunner(TrialContext& ctx, const TrialData& data) : ctx_(ctx), data_(data) {}

StepRunner::~StepRunner() = default;

torch::optim::Optimizer& StepRunner::optimizer() { return *optimizer_; }

absl::Status StepRunner::Init() {
  const sweeps::TrialSpec& trial = ctx_.trial;
  regularizer_ = {.name = trial.regularizer,
                  .lambda = trial.lambda,
                  .zeta = trial.zeta,
                  .parameters = trial.parameters};
  ISTAR_RETURN_IF_ERROR(CheckTrainable(regularizer_));
  // An empty regularizer_layers means the regularizer's default: every layer, or the last one
  // for the sentence-level objectives (catalog/catalog.h, DefaultLayers).
  const int64_t num_layers = ctx_.model.model->config().num_hidden_layers;
  std::vector<int64_t> requested = trial.training.regularizer_layers;
  const catalog::RegularizerSpec* spec = catalog::FindRegularizer(trial.regularizer);
  if (requested.empty() && spec != nullptr &&
      spec->default_layers == catalog::DefaultLayers::kLast) {
    requested = {num_layers};
  }
  ISTAR_ASSIGN_OR_RETURN(layers_, ResolveLayers(num_layers, requested));
  warmup_steps_ = static_cast<int64_t>(
      std::ceil(trial.training.warmup_ratio * static_cast<double>(ctx_.total_steps)));
  optimizer_ =
      MakeOptimizer(ctx_.model.model->module(), trial.learning_rate, trial.training.weight_decay);
  return absl::OkStatus();
}

void StepRunner::AverageGradientsOverRanks() {
  averager_ =
      std::make_unique<GradientAverager>(ctx_.tensors, ctx_.model.model->module().parameters());
}

absl::Status StepRunner::StartEpoch(const at::Tensor& resumed) {
  if (!NeedsShrinkage(regularizer_)) return absl::OkStatus();
  if (resumed.defined()) {
    regularizer_.shrinkage = resumed;
    return absl::OkStatus();
  }
  return EstimateShrinkage();
}

// Note [Shrinkage at epoch start]
// I-STAR's S0 is re-estimated at the start of every epoch from the training set in order, in eval
// mode (no dropout) and without gradient, over the same union of layers the regularizer reads,
// up to shrinkage_points points (docs/isotropy.md, "IsoScore and IsoScore*"). Eval mode draws no
// random numbers, so a resumed run estimates the same S0 as an uninterrupted one.
//
// Note [S0 on a worker group]
// The batches go round-robin (batch k to rank k % R) and ShrinkageEstimator::Finish sums the
// statistics over the ranks. Which points one process would take under the budget is known
// before any forward pass: a batch holds (its features' tokens) x (layers) points, and the first
// batches fill the budget in order, the last one partly. Every rank computes that plan and adds
// exactly its batches' planned rows, so the group estimates S0 from the same points as one
// process, whether or not the budget binds.
absl::Status StepRunner::EstimateShrinkage() {
  at::NoGradGuard no_grad;
  models::TaskModel& model = *ctx_.model.model;
  model.module().eval();
  regularizers::ShrinkageEstimator estimator(model.config().hidden_size,
                                             ctx_.trial.training.shrinkage_points, ctx_.device);
  const std::vector<tasks::Feature>& features = data_.train_features();
  const auto layers = static_cast<int64_t>(layers_.size());
  const std::vector<std::vector<int64_t>> batches =
      EpochBatches(static_cast<int64_t>(features.size()), kEvalBatchSize, 0, 0, false);
  int64_t left = ctx_.trial.training.shrinkage_points;
  for (size_t k = 0; k < batches.size() && left > 0; ++k) {
    int64_t tokens = 0;
    for (int64_t f : batches[k]) tokens += static_cast<int64_t>(features[f].input_ids.size());
    const int64_t take = std::min(tokens * layers, left);
    left -= take;
    if (static_cast<int64_t>(k) % ctx_.group.size() != ctx_.group.rank()) continue;
    const models::Batch batch =
        ToModelBatch(Collate(features, batches[k], data_.pad_id()), ctx_.device);
    const models::ModelOutput out = model.Forward(batch);
    const PointCloud cloud = GatherPoints(out.hidden_states, batch.attention_mask, layers_);
    ISTAR_RETURN_IF_ERROR(estimator.Add(cloud.points.slice(0, 0, take)).status());
  }
  ISTAR_ASSIGN_OR_RETURN(regularizer_.shrinkage, estimator.Finish(ctx_.ranks));
  return absl::OkStatus();
}

absl::StatusOr<MicroBatchOutput> StepRunner::Forward(std::span<const int64_t> indices,
                                                     bool with_cloud) {
  const at::ScalarType dtype = ctx_.options.float64 ? at::kDouble : at::kFloat;
  const HostBatch host = Collate(data_.train_features(), indices, data_.pad_id());
  const models::Batch batch = ToModelBatch(host, ctx_.device);
  models::ModelOutput out;
  {
    // bf16 trials: the forward in autocast; the losses and regularizers below in float32.
    AutocastGuard autocast(at::kBFloat16, ctx_.trial.training.precision == "bf16");
    out = ctx_.model.model->Forward(batch);
  }
  MicroBatchOutput result;
  if (with_cloud) {
    result.cloud = GatherPoints(out.hidden_states, batch.attention_mask, layers_);
    result.cloud.points = result.cloud.points.to(dtype);  // a no-op unless autocast ran
  }
  result.task_loss_sum = TaskLossSum(ctx_.adapter, out, host, dtype, ctx_.device);
  return result;
}

absl::StatusOr<StepReport> StepRunner::Step(std::span<const int64_t> indices, bool log) {
  const int64_t step = ctx_.step;
  const auto global_rows = static_cast<int64_t>(indices.size());
  const Shard shard = ShardOf(global_rows, ctx_.group.rank(), ctx_.group.size());
  const std::span<const int64_t> mine = indices.subspan(shard.begin, shard.rows());
  const at::ScalarType dtype = ctx_.options.float64 ? at::kDouble : at::kFloat;
  regularizer_.draw_seed = DrawSeed(ctx_.trial.seed, step);
  ctx_.model.model->module().train();
  optimizer_->zero_grad();
  const StepOptions options{.global_rows = global_rows,
                            .local_rows = static_cast<int64_t>(mine.size()),
                            .micro_batches = ctx_.trial.training.gradient_accumulation_steps,
                            .log = log,
                            .hidden = ctx_.model.model->config().hidden_size,
                            .layers = layers_,
                            .options = at::TensorOptions(dtype).device(ctx_.device),
                            .device = ctx_.device};
  ISTAR_ASSIGN_OR_RETURN(StepResult result,
                         RunStepPasses(
                             [&](const Shard& rows, bool with_cloud) {
                               return Forward(mine.subspan(rows.begin, rows.rows()), with_cloud);
                             },
                             options, regularizer_, ctx_.ranks, averager_.get()));
  if (!result.rejected.ok()) {
    // The regularizers validate the reduced statistics, so every rank is here; tell a divergence
    // (hidden states no longer finite on some rank) from other errors together.
    const at::Tensor& points = result.cloud.points;
    const bool broken =
        points.defined() && points.numel() > 0 && !at::isfinite(points).all().item<bool>();
    ISTAR_ASSIGN_OR_RETURN(const double broken_ranks, ctx_.SumOverRanks(broken ? 1.0 : 0.0));
    if (broken_ranks > 0) {
      return StepReport{.divergence =
                            absl::StrCat("diverged: hidden states are not finite at step ", step)};
    }
    return result.rejected;
  }
  const double total = result.loss.total.item<double>();  // the same on every rank
  if (!std::isfinite(total)) {
    return StepReport{.divergence = absl::StrCat("diverged: loss is ", total, " at step ", step)};
  }
  const sweeps::TrainingSettings& training = ctx_.trial.training;
  const double lr = ctx_.trial.learning_rate *
                    LearningRateFactor(training.lr_schedule, step, warmup_steps_, ctx_.total_steps);
  TakeOptimizerStep(*optimizer_, ctx_.model.model->module().parameters(), lr,
                    training.max_grad_norm);
  return StepReport{.loss = std::move(result.loss),
                    .total = total,
                    .cloud = std::move(result.cloud),
                    .lr = lr,
                    .global_rows = global_rows};
}

}  // namespace istar::trainer::internal

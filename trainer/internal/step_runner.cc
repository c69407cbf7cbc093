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
namespace {

// The tokens per layer of the cloud that GatherPoints takes from the collated `batch`: its real
// tokens, or with kInclude every position (rows x the longest feature, as Collate pads).
int64_t CloudTokens(const std::vector<tasks::Feature>& features, std::span<const int64_t> batch,
                    sweeps::PointCloudPadding padding) {
  int64_t tokens = 0;
  int64_t longest = 0;
  for (int64_t f : batch) {
    const auto length = static_cast<int64_t>(features[f].input_ids.size());
    tokens += length;
    longest = std::max(longest, length);
  }
  return padding == sweeps::PointCloudPadding::kInclude
             ? longest * static_cast<int64_t>(batch.size())
             : tokens;
}

}  // namespace

StepRunner::StepRunner(TrialContext& ctx, const TrialData& data) : ctx_(ctx), data_(data) {}

StepRunner::~StepRunner() = default;

torch::optim::Optimizer& StepRunner::optimizer() { return *optimizer_; }

absl::Status StepRunner::Init() {
  const sweeps::TrialSpec& trial = ctx_.trial;
  regularizer_ = {.name = trial.regularizer,
                  .lambda = trial.lambda,
                  .zeta = trial.zeta,
                  .parameters = trial.parameters,
                  .scope = trial.training.isotropy_scope};
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
  ISTAR_ASSIGN_OR_RETURN(all_layers_, ResolveLayers(num_layers, {}));
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

absl::Status StepRunner::StartEpoch(int64_t epoch, const EpochShrinkage& resumed) {
  const bool logged = ctx_.trial.training.evaluation_zeta > 0.0;
  const bool regularized = NeedsShrinkage(regularizer_);
  if ((!logged || resumed.logged()) && (!regularized || resumed.regularizer.defined())) {
    if (logged || regularized) shrinkage_ = resumed;
  } else {
    ISTAR_RETURN_IF_ERROR(EstimateShrinkage(epoch));
    // A preemption checkpoint of an older istar holds the regularizer's S0 alone.
    if (regularized && resumed.regularizer.defined()) shrinkage_.regularizer = resumed.regularizer;
  }
  regularizer_.shrinkage = regularized ? shrinkage_.regularizer : at::Tensor();
  return absl::OkStatus();
}

std::vector<std::vector<int64_t>> StepRunner::ShrinkageBatches(int64_t epoch) const {
  const auto n = static_cast<int64_t>(data_.train_features().size());
  const sweeps::TrialSpec& trial = ctx_.trial;
  if (trial.training.shrinkage_sample == sweeps::ShrinkageSample::kFirst) {
    return EpochBatches(n, kEvalBatchSize, 0, 0, false);
  }
  std::vector<int64_t> order;
  for (const std::vector<int64_t>& batch :
       EpochBatches(n, trial.batch_size, trial.seed, epoch, true)) {
    order.insert(order.end(), batch.begin(), batch.end());
  }
  const auto size = static_cast<size_t>(kEvalBatchSize);
  std::vector<std::vector<int64_t>> batches;
  for (size_t begin = 0; begin < order.size(); begin += size) {
    const size_t end = std::min(order.size(), begin + size);
    batches.emplace_back(order.begin() + begin, order.begin() + end);
  }
  return batches;
}

// Note [Shrinkage at epoch start]
// The epoch's S0s are re-estimated at the start of every epoch from the first training examples
// (training.shrinkage_sample: of the file, or of the epoch's shuffled order), in eval mode (no
// dropout) and without gradient, each from up to shrinkage_points points (docs/isotropy.md,
// "IsoScore and IsoScore*"): the regularizer's over the union of the layers it reads, and for
// the logged IsoScore* every layer's own and the union of all layers'. All of them come from the
// same forward passes, run until the largest budget (a single layer's) is filled; a union of
// several layers fills its budget layer block by layer block of each batch (GatherPoints'
// order), added one block at a time (the estimator's merge is exact). When the regularizer reads
// every layer its S0 is the all-layer one, not estimated twice. Eval mode draws no random
// numbers, so a resumed run estimates the same S0s as an uninterrupted one.
//
// Note [S0 on a worker group]
// The batches go round-robin (batch k to rank k % R) and ShrinkageEstimator::Finish sums the
// statistics over the ranks. Which points one process would take under each budget is known
// before any forward pass: a batch holds (its cloud's tokens) x (layers) points of a union, and
// the first batches fill the budget in order, the last one partly. Every rank computes that plan
// and adds exactly its batches' planned rows, so the group estimates each S0 from the same
// points as one process, whether or not the budget binds.
namespace {

// One S0 under estimation: the union of `layers` (1-based), `left` points still to plan.
struct ShrinkagePlan {
  std::vector<int64_t> layers;
  int64_t left = 0;
  regularizers::ShrinkageEstimator estimator;
};

}  // namespace

absl::Status StepRunner::EstimateShrinkage(int64_t epoch) {
  at::NoGradGuard no_grad;
  models::TaskModel& model = *ctx_.model.model;
  model.module().eval();
  const sweeps::TrainingSettings& training = ctx_.trial.training;
  const bool logged = training.evaluation_zeta > 0.0;
  const bool reuse = logged && layers_ == all_layers_;
  std::vector<ShrinkagePlan> plans;
  auto plan = [&](std::vector<int64_t> layers) {
    plans.push_back({std::move(layers), training.shrinkage_points,
                     regularizers::ShrinkageEstimator(model.config().hidden_size,
                                                      training.shrinkage_points, ctx_.device)});
  };
  if (logged) {
    for (int64_t layer : all_layers_) plan({layer});
    plan(all_layers_);
  }
  if (NeedsShrinkage(regularizer_) && !reuse) plan(layers_);
  const std::vector<tasks::Feature>& features = data_.train_features();
  const std::vector<std::vector<int64_t>> batches = ShrinkageBatches(epoch);
  for (size_t k = 0; k < batches.size(); ++k) {
    const int64_t tokens = CloudTokens(features, batches[k], training.point_cloud_padding);
    std::vector<int64_t> takes;
    for (ShrinkagePlan& p : plans) {
      takes.push_back(std::min(tokens * static_cast<int64_t>(p.layers.size()), p.left));
      p.left -= takes.back();
    }
    if (*std::max_element(takes.begin(), takes.end()) == 0) break;
    if (static_cast<int64_t>(k) % ctx_.group.size() != ctx_.group.rank()) continue;
    const models::Batch batch =
        ToModelBatch(Collate(features, batches[k], data_.pad_id()), ctx_.device);
    const models::ModelOutput out = model.Forward(batch);
    std::vector<at::Tensor> points(all_layers_.size() + 1);  // by layer, gathered when needed
    for (size_t i = 0; i < plans.size(); ++i) {
      for (size_t b = 0; b < plans[i].layers.size() && takes[i] > 0; ++b) {
        const int64_t layer = plans[i].layers[b];
        at::Tensor& rows = points[static_cast<size_t>(layer)];
        if (!rows.defined()) {
          const int64_t one[] = {layer};
          rows = GatherPoints(out.hidden_states, batch.attention_mask, one,
                              training.point_cloud_padding)
                     .points;
        }
        const int64_t take = std::min(tokens, takes[i]);
        takes[i] -= take;
        ISTAR_RETURN_IF_ERROR(plans[i].estimator.Add(rows.slice(0, 0, take)).status());
      }
    }
  }
  std::vector<at::Tensor> s0;
  for (const ShrinkagePlan& p : plans) {
    ISTAR_ASSIGN_OR_RETURN(at::Tensor estimate, p.estimator.Finish(ctx_.ranks));
    s0.push_back(std::move(estimate));
  }
  shrinkage_ = EpochShrinkage();
  if (logged) {
    shrinkage_.layers.assign(s0.begin(), s0.begin() + static_cast<int64_t>(all_layers_.size()));
    shrinkage_.all_layers = s0[all_layers_.size()];
  }
  if (NeedsShrinkage(regularizer_)) {
    shrinkage_.regularizer = reuse ? shrinkage_.all_layers : s0.back();
  }
  return absl::OkStatus();
}

absl::StatusOr<MicroBatchOutput> StepRunner::Forward(std::span<const int64_t> indices,
                                                     bool with_cloud, bool log) {
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
    result.cloud =
        GatherPoints(out.hidden_states, batch.attention_mask, log ? all_layers_ : layers_,
                     ctx_.trial.training.point_cloud_padding);
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
                            .logged_layers = all_layers_,
                            .options = at::TensorOptions(dtype).device(ctx_.device),
                            .device = ctx_.device};
  ISTAR_ASSIGN_OR_RETURN(StepResult result,
                         RunStepPasses(
                             [&](const Shard& rows, bool with_cloud) {
                               return Forward(mine.subspan(rows.begin, rows.rows()), with_cloud,
                                              log);
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

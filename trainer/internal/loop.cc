#include "trainer/internal/loop.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "catalog/catalog.h"
#include "comm/communicator.h"
#include "regularizers/isotropy.h"
#include "regularizers/tensor_collectives.h"
#include "tasks/adapter.h"
#include "tasks/task.h"
#include "torch_boundary/torch_boundary.h"
#include "trainer/autocast.h"
#include "trainer/data_parallel.h"
#include "trainer/internal/batches.h"
#include "trainer/internal/checkpoint.h"
#include "trainer/internal/evaluate.h"
#include "trainer/internal/gpu_memory.h"
#include "trainer/internal/task_head.h"
#include "trainer/loss.h"
#include "trainer/step.h"

namespace istar::trainer::internal {
namespace {

// Note [Gradient clipping]: every step clips the global gradient norm to 1.0, as transformers'
// Trainer does by default (max_grad_norm). It is a constant, not a sweep setting, because it
// changes nothing for a healthy run and keeps a large negative I-STAR lambda from blowing up
// the first steps.
constexpr double kMaxGradNorm = 1.0;
// AdamW's moments and epsilon, as the paper's published code sets them (docs/training.md,
// "The loop").
constexpr double kBeta1 = 0.9;
constexpr double kBeta2 = 0.999;
constexpr double kAdamEps = 1e-6;
constexpr int64_t kPlainProgressEvery = 10;

using Clock = std::chrono::steady_clock;

// LayerNorm weights and biases take no weight decay, as in transformers' examples. Parameter
// names are Hugging Face's: "LayerNorm" (BERT, ALBERT), "*layer_norm" (DistilBERT, ALBERT).
bool TakesWeightDecay(const std::string& name) {
  const bool bias = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
  return !bias && name.find("LayerNorm") == std::string::npos &&
         name.find("layer_norm") == std::string::npos;
}

std::unique_ptr<torch::optim::AdamW> MakeOptimizer(torch::nn::Module& module, double lr,
                                                   double weight_decay) {
  std::vector<at::Tensor> decay;
  std::vector<at::Tensor> no_decay;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    (TakesWeightDecay(item.key()) ? decay : no_decay).push_back(item.value());
  }
  auto options = [&](double wd) {
    return torch::optim::AdamWOptions(lr).betas({kBeta1, kBeta2}).eps(kAdamEps).weight_decay(wd);
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(options(weight_decay)));
  groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(options(0.0)));
  return std::make_unique<torch::optim::AdamW>(std::move(groups), options(weight_decay));
}

// Each evaluation split's scores, keyed by the split name they are stored under
// (tasks::StoredSplitName: "validation", MNLI's "validation_mismatched").
using SplitScores = std::map<std::string, std::map<std::string, double>>;

std::vector<db::FinalResult> FinalResults(const SplitScores& splits) {
  std::vector<db::FinalResult> finals;
  for (const auto& [split, scores] : splits) {
    for (const auto& [name, value] : scores) {
      finals.push_back({.split = split, .name = name, .value = value});
    }
  }
  return finals;
}

// Note [One trial on a worker group]
// Every rank of the group runs this loop in lockstep (docs/training.md, "Worker groups"): the
// same global batches from the same shuffle, each rank training on its shard of each (ShardOf);
// the regularizer and the logged measures span every rank's points; the gradients are averaged
// before the optimizer step, so every rank holds the same weights throughout. Rank 0 alone writes
// the rows (to the ResultSink) and the checkpoints and reports progress. Anything that could go
// differently on one rank (a row write, a checkpoint, a regularizer's verdict) is made the group's decision with
// AgreeOnStatus or a reduced flag, so that all ranks issue the same collectives and stop
// together. With one rank every collective is skipped and the loop is the one-process trainer.
class Loop final : public TrialLoop {
 public:
  Loop(const sweeps::TrialSpec& trial, const RunOptions& options, comm::Communicator& group)
      : trial_(trial),
        options_(options),
        group_(group),
        tensors_(options.tensor_group != nullptr ? *options.tensor_group : group),
        device_(options.device) {
    if (group.size() > 1) {
      owned_ranks_ = regularizers::MakeCrossRankSum(tensors_);
      ranks_ = owned_ranks_.get();
    }
  }

  // What each rank does on its own: data, model, optimizer, its view of the checkpoints.
  absl::Status Init();
  // Collectives: agree on the resume point, broadcast rank 0's weights.
  absl::Status Synchronize();
  absl::StatusOr<TrialResult> Run(ResultSink* sink) override;

 private:
  // A divergence message, or nullopt when the step went well.
  using StepOutcome = std::optional<std::string>;

  absl::Status LoadData();
  absl::Status EstimateShrinkage();
  absl::StatusOr<StepOutcome> Step(std::span<const int64_t> indices, bool log, ResultSink* sink);
  // The forward pass of a step over `indices` (training rows, never empty): its summed task loss
  // and, `with_cloud`, its point cloud.
  absl::StatusOr<MicroBatchOutput> Forward(std::span<const int64_t> indices, bool with_cloud);
  absl::Status LogStep(const PointCloud& cloud, const StepLoss& loss, double lr, ResultSink* sink);
  // Scores every evaluation split and writes its metric rows. A collective.
  absl::StatusOr<SplitScores> Evaluate(ResultSink* sink);
  // Rank 0: the sink's rows stored (ResultSink::Sync), then the checkpoint written; skipped
  // (OK) while rows cannot be delivered.
  absl::Status Checkpoint(const CheckpointState& state, const at::Tensor* shrinkage,
                          const GeneratorStates& generators, ResultSink* sink);
  // Every rank's CPU (and GPU) generator state on every rank, for a checkpoint. A collective
  // (Note [Generators of a worker group] in checkpoint.cc).
  absl::StatusOr<GeneratorStates> GatherGenerators();
  // Every rank's state of its `device` generator, [R, S] uint8. A collective.
  absl::StatusOr<at::Tensor> GatherRngState(const at::Device& device);
  // Rank 0 writes the epoch's peak GPU memory over the ranks (GPUs only). A collective.
  absl::Status LogPeakGpuMemory(ResultSink* sink);
  // On a stop request: a preemption checkpoint of the steps taken since the last checkpoint,
  // when RunOptions::checkpoint_on_stop says so on rank 0. A collective.
  absl::Status SaveOnStop(int64_t epoch, ResultSink* sink);
  void ReportProgress(int64_t epoch, double loss);
  double EpochPosition() const {
    return static_cast<double>(step_) / static_cast<double>(steps_per_epoch_);
  }
  bool leader() const { return group_.rank() == 0; }
  // Sums `value` over the ranks (no collective with one rank).
  absl::StatusOr<double> SumOverRanks(double value);
  // Runs `write` (a store write or a checkpoint) on rank 0 only, then makes its outcome the
  // group's: a collective.
  template <typename Write>
  absl::Status OnLeader(Write write) {
    return comm::AgreeOnStatus(group_, leader() ? write() : absl::OkStatus());
  }

  const sweeps::TrialSpec trial_;
  const RunOptions options_;
  comm::Communicator& group_;    // host memory: decisions, flags, generator states
  comm::Communicator& tensors_;  // the tensors of the steps (NCCL on GPUs, else group_)
  std::unique_ptr<regularizers::CrossRankSum> owned_ranks_;
  const regularizers::CrossRankSum* ranks_ = &regularizers::LocalSum();
  std::unique_ptr<GradientAverager> averager_;
  tasks::TaskData train_data_;
  std::vector<tasks::Feature> train_features_;
  // One of the task's evaluation splits (its catalogue row's eval_splits, in order).
  struct EvalSplit {
    std::string stored_name;  // tasks::StoredSplitName: "validation", ...
    tasks::TaskData data;
    std::vector<tasks::Feature> features;
  };
  std::vector<EvalSplit> eval_splits_;
  TrialModel model_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  std::vector<int64_t> layers_;
  RegularizerSettings regularizer_;
  std::string trial_dir_;  // empty: no checkpoints
  int64_t pad_id_ = 0;
  // Head, outputs and loss, by the task's kind: the loop never names a task.
  tasks::TaskAdapter adapter_;
  const at::Device device_;
  int64_t step_ = 0;
  int64_t saved_step_ = -1;  // step_ of the last checkpoint written or restored
  at::Tensor resumed_shrinkage_;  // S0 of a preemption checkpoint's epoch
  int64_t start_epoch_ = 0;
  int64_t steps_per_epoch_ = 1;
  int64_t total_steps_ = 1;
  int64_t warmup_steps_ = 0;
  int64_t examples_seen_ = 0;  // by the whole group, for the throughput
  double last_loss_ = 0.0;     // total loss of the last step
  Clock::time_point started_ = Clock::now();
};

absl::Status Loop::LoadData() {
  const std::optional<tasks::Task> task = tasks::ParseTask(trial_.task);
  if (!task.has_value()) return absl::InvalidArgumentError("unknown task: " + trial_.task);
  ISTAR_ASSIGN_OR_RETURN(train_data_,
                         tasks::ReadTaskData(*task, trial_.task_path, tasks::Split::kTrain));
  // See docs/training.md, "SQuAD": stride and question length shrink with short sequences.
  const int64_t length = trial_.training.max_seq_length;
  const tasks::EncodeSettings encode{.max_seq_length = length,
                                     .doc_stride = std::min<int64_t>(128, length / 3),
                                     .max_query_length = std::min<int64_t>(64, length / 4)};
  ISTAR_ASSIGN_OR_RETURN(train_features_,
                         tasks::BuildFeatures(train_data_, *model_.tokenizer, encode));
  if (train_features_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(trial_.task_path, ": empty train split"));
  }
  eval_splits_.clear();
  for (const std::string_view name : tasks::TaskSpecOf(*task).eval_splits) {
    EvalSplit split{.stored_name = tasks::StoredSplitName(name)};
    ISTAR_ASSIGN_OR_RETURN(split.data, tasks::ReadEvalSplit(*task, trial_.task_path, name));
    ISTAR_ASSIGN_OR_RETURN(split.features,
                           tasks::BuildFeatures(split.data, *model_.tokenizer, encode));
    if (split.features.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(split.data.path, ": empty evaluation split ", std::string(name)));
    }
    eval_splits_.push_back(std::move(split));
  }
  return absl::OkStatus();
}

absl::Status Loop::Init() {
  const std::optional<tasks::Task> task = tasks::ParseTask(trial_.task);
  if (!task.has_value()) return absl::InvalidArgumentError("unknown task: " + trial_.task);
  adapter_ = tasks::AdapterOf(*task);
  at::manual_seed(static_cast<uint64_t>(trial_.seed));
  ISTAR_ASSIGN_OR_RETURN(model_,
                         LoadTrialModel(trial_.model_path, HeadOf(adapter_), adapter_.num_outputs,
                                        static_cast<uint64_t>(trial_.seed)));
  if (options_.float64) model_.model->module().to(at::kDouble);
  if (device_.is_cuda()) {
    if (!at::hasCUDA()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "device ", options_.device, ": this LibTorch has no CUDA (Debian's is CPU-only; see "
          "docs/building.md, \"The GPU build\")"));
    }
    model_.model->module().to(device_);
  }
  pad_id_ = std::max<int32_t>(0, model_.tokenizer->pad_id());
  ISTAR_RETURN_IF_ERROR(LoadData());
  regularizer_ = {.name = trial_.regularizer,
                  .lambda = trial_.lambda,
                  .zeta = trial_.zeta,
                  .parameters = trial_.parameters};
  ISTAR_RETURN_IF_ERROR(CheckTrainable(regularizer_));
  // An empty regularizer_layers means the regularizer's default: every layer, or the last one
  // for the sentence-level objectives (catalog/catalog.h, DefaultLayers).
  const int64_t num_layers = model_.model->config().num_hidden_layers;
  std::vector<int64_t> requested = trial_.training.regularizer_layers;
  const catalog::RegularizerSpec* spec = catalog::FindRegularizer(trial_.regularizer);
  if (requested.empty() && spec != nullptr &&
      spec->default_layers == catalog::DefaultLayers::kLast) {
    requested = {num_layers};
  }
  ISTAR_ASSIGN_OR_RETURN(layers_, ResolveLayers(num_layers, requested));
  const auto features = static_cast<int64_t>(train_features_.size());
  steps_per_epoch_ = (features + trial_.batch_size - 1) / trial_.batch_size;
  total_steps_ = steps_per_epoch_ * trial_.epochs;
  warmup_steps_ = static_cast<int64_t>(
      std::ceil(trial_.training.warmup_ratio * static_cast<double>(total_steps_)));
  optimizer_ =
      MakeOptimizer(model_.model->module(), trial_.learning_rate, trial_.training.weight_decay);
  if (options_.checkpoint_dir.empty()) return absl::OkStatus();
  trial_dir_ = (std::filesystem::path(options_.checkpoint_dir) / trial_.id).string();
  ISTAR_ASSIGN_OR_RETURN(std::optional<CheckpointState> restored,
                         RestoreLatestCheckpoint(trial_dir_, *model_.model, *optimizer_,
                                                 &resumed_shrinkage_, group_.rank(), device_));
  if (restored.has_value()) {
    const int64_t done_in_epoch = restored->step - restored->epoch * steps_per_epoch_;
    if (restored->epoch > trial_.epochs || done_in_epoch < 0 || done_in_epoch > steps_per_epoch_ ||
        (restored->mid_epoch && done_in_epoch == steps_per_epoch_)) {
      return absl::DataLossError(absl::StrCat(
          trial_dir_, ": the latest checkpoint (epoch ", restored->epoch, ", step ",
          restored->step, ") does not fit this trial (", trial_.epochs, " epochs of ",
          steps_per_epoch_, " steps)"));
    }
    start_epoch_ = restored->epoch;
    step_ = restored->step;
    saved_step_ = step_;
    if (leader()) {
      std::cerr << "resuming trial " << trial_.id.substr(0, 12) << " from its checkpoint at step "
                << step_ << " (epoch " << start_epoch_ + (restored->mid_epoch ? 1 : 0)
                << (restored->mid_epoch ? ", inside it" : " done") << ")\n";
    }
  }
  return absl::OkStatus();
}

absl::Status Loop::Synchronize() {
  if (group_.size() == 1) return absl::OkStatus();
  // Every rank restored the latest checkpoint it could see; they must all resume from rank 0's.
  std::array<int64_t, 2> mine = {start_epoch_, step_};
  std::array<int64_t, 2> root = mine;
  ISTAR_RETURN_IF_ERROR(group_.Broadcast(std::as_writable_bytes(std::span<int64_t>(root)), 0));
  absl::Status agree;
  if (root != mine) {
    agree = absl::FailedPreconditionError(absl::StrCat(
        "resumes after epoch ", mine[0], " (step ", mine[1], ") but rank 0 after epoch ", root[0],
        " (step ", root[1], "): the checkpoint folder must be one that every rank sees"));
  }
  ISTAR_RETURN_IF_ERROR(comm::AgreeOnStatus(group_, agree));
  ISTAR_RETURN_IF_ERROR(BroadcastModule(tensors_, model_.model->module()));
  averager_ = std::make_unique<GradientAverager>(tensors_, model_.model->module().parameters());
  return absl::OkStatus();
}

absl::StatusOr<double> Loop::SumOverRanks(double value) {
  std::array<double, 1> sum = {value};
  if (group_.size() > 1) ISTAR_RETURN_IF_ERROR(group_.AllReduceSum(std::span<double>(sum)));
  return sum[0];
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
absl::Status Loop::EstimateShrinkage() {
  at::NoGradGuard no_grad;
  model_.model->module().eval();
  regularizers::ShrinkageEstimator estimator(model_.model->config().hidden_size,
                                             trial_.training.shrinkage_points, device_);
  const auto count = static_cast<int64_t>(train_features_.size());
  const auto layers = static_cast<int64_t>(layers_.size());
  const std::vector<std::vector<int64_t>> batches =
      EpochBatches(count, kEvalBatchSize, 0, 0, false);
  int64_t left = trial_.training.shrinkage_points;
  for (size_t k = 0; k < batches.size() && left > 0; ++k) {
    int64_t tokens = 0;
    for (int64_t f : batches[k]) tokens += static_cast<int64_t>(train_features_[f].input_ids.size());
    const int64_t take = std::min(tokens * layers, left);
    left -= take;
    if (static_cast<int64_t>(k) % group_.size() != group_.rank()) continue;
    const models::Batch batch =
        ToModelBatch(Collate(train_features_, batches[k], pad_id_), device_);
    const models::ModelOutput out = model_.model->Forward(batch);
    const PointCloud cloud = GatherPoints(out.hidden_states, batch.attention_mask, layers_);
    ISTAR_RETURN_IF_ERROR(estimator.Add(cloud.points.slice(0, 0, take)).status());
  }
  ISTAR_ASSIGN_OR_RETURN(regularizer_.shrinkage, estimator.Finish(*ranks_));
  return absl::OkStatus();
}

absl::StatusOr<MicroBatchOutput> Loop::Forward(std::span<const int64_t> indices, bool with_cloud) {
  const at::ScalarType dtype = options_.float64 ? at::kDouble : at::kFloat;
  const HostBatch host = Collate(train_features_, indices, pad_id_);
  const models::Batch batch = ToModelBatch(host, device_);
  models::ModelOutput out;
  {
    // bf16 trials: the forward in autocast; the losses and regularizers below in float32.
    AutocastGuard autocast(at::kBFloat16, trial_.training.precision == "bf16");
    out = model_.model->Forward(batch);
  }
  MicroBatchOutput result;
  if (with_cloud) {
    result.cloud = GatherPoints(out.hidden_states, batch.attention_mask, layers_);
    result.cloud.points = result.cloud.points.to(dtype);  // a no-op unless autocast ran
  }
  result.task_loss_sum = TaskLossSum(adapter_, out, host, dtype, device_);
  return result;
}

absl::StatusOr<Loop::StepOutcome> Loop::Step(std::span<const int64_t> indices, bool log,
                                             ResultSink* sink) {
  const auto global_rows = static_cast<int64_t>(indices.size());
  const Shard shard = ShardOf(global_rows, group_.rank(), group_.size());
  const std::span<const int64_t> mine = indices.subspan(shard.begin, shard.rows());
  const at::ScalarType dtype = options_.float64 ? at::kDouble : at::kFloat;
  regularizer_.draw_seed = DrawSeed(trial_.seed, step_);
  model_.model->module().train();
  optimizer_->zero_grad();
  const StepOptions step{.global_rows = global_rows,
                         .local_rows = static_cast<int64_t>(mine.size()),
                         .micro_batches = trial_.training.gradient_accumulation_steps,
                         .log = log,
                         .hidden = model_.model->config().hidden_size,
                         .layers = layers_,
                         .options = at::TensorOptions(dtype).device(device_),
                         .device = device_};
  ISTAR_ASSIGN_OR_RETURN(const StepResult result,
                         RunStepPasses(
                             [&](const Shard& rows, bool with_cloud) {
                               return Forward(mine.subspan(rows.begin, rows.rows()), with_cloud);
                             },
                             step, regularizer_, *ranks_, averager_.get()));
  if (!result.rejected.ok()) {
    // The regularizers validate the reduced statistics, so every rank is here; tell a divergence
    // (hidden states no longer finite on some rank) from other errors together.
    const at::Tensor& points = result.cloud.points;
    const bool broken =
        points.defined() && points.numel() > 0 && !at::isfinite(points).all().item<bool>();
    ISTAR_ASSIGN_OR_RETURN(const double broken_ranks, SumOverRanks(broken ? 1.0 : 0.0));
    if (broken_ranks > 0) {
      return StepOutcome(absl::StrCat("diverged: hidden states are not finite at step ", step_));
    }
    return result.rejected;
  }
  const double total = result.loss.total.item<double>();  // the same on every rank
  if (!std::isfinite(total)) {
    return StepOutcome(absl::StrCat("diverged: loss is ", total, " at step ", step_));
  }
  last_loss_ = total;
  const double lr = trial_.learning_rate * LinearScheduleFactor(step_, warmup_steps_, total_steps_);
  for (torch::optim::OptimizerParamGroup& group : optimizer_->param_groups()) {
    group.options().set_lr(lr);
  }
  torch::nn::utils::clip_grad_norm_(model_.model->module().parameters(), kMaxGradNorm);
  optimizer_->step();
  if (log) ISTAR_RETURN_IF_ERROR(LogStep(result.cloud, result.loss, lr, sink));
  ++step_;
  examples_seen_ += global_rows;
  return StepOutcome();
}

absl::Status Loop::LogStep(const PointCloud& cloud, const StepLoss& loss, double lr,
                           ResultSink* sink) {
  const double epoch = EpochPosition();
  std::vector<db::MetricRow> metrics;
  auto metric = [&](const char* name, double value) {
    metrics.push_back({.trial_id = trial_.id,
                       .step = step_,
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
  auto measure = [&](int64_t layer, const at::Tensor& points) -> absl::Status {
    ISTAR_ASSIGN_OR_RETURN(IsotropyMeasures m,
                           MeasureIsotropy(points, trial_.zeta, regularizer_.shrinkage, *ranks_));
    rows.push_back({.trial_id = trial_.id,
                    .step = step_,
                    .epoch = epoch,
                    .layer = layer,
                    .isoscore_star = m.isoscore_star,
                    .isoscore = m.isoscore,
                    .avg_cosine = m.avg_cosine});
    return absl::OkStatus();
  };
  ISTAR_ASSIGN_OR_RETURN(const double tokens, SumOverRanks(static_cast<double>(cloud.tokens)));
  if (tokens >= 2) {
    for (size_t k = 0; k < cloud.layers.size(); ++k) {
      const auto begin = static_cast<int64_t>(k) * cloud.tokens;
      ISTAR_RETURN_IF_ERROR(
          measure(cloud.layers[k], cloud.points.slice(0, begin, begin + cloud.tokens)));
    }
    ISTAR_RETURN_IF_ERROR(measure(db::IsotropyRow::kUnionLayer, cloud.points));
  }
  return OnLeader([&]() -> absl::Status {
    ISTAR_RETURN_IF_ERROR(sink->WriteMetrics(metrics));
    return rows.empty() ? absl::OkStatus() : sink->WriteIsotropy(rows);
  });
}

absl::StatusOr<SplitScores> Loop::Evaluate(ResultSink* sink) {
  SplitScores splits;
  std::vector<db::MetricRow> rows;
  for (const EvalSplit& split : eval_splits_) {
    ISTAR_ASSIGN_OR_RETURN(tasks::Scores scores,
                           EvaluateSplit(*model_.model, adapter_, split.data, split.features,
                                         pad_id_, group_, tensors_));
    for (const auto& [name, value] : scores.values) {
      rows.push_back({.trial_id = trial_.id,
                      .step = step_,
                      .epoch = EpochPosition(),
                      .split = split.stored_name,
                      .name = name,
                      .value = value});
    }
    splits[split.stored_name] = std::move(scores.values);
  }
  ISTAR_RETURN_IF_ERROR(OnLeader([&] { return sink->WriteMetrics(rows); }));
  return splits;
}

void Loop::ReportProgress(int64_t epoch, double loss) {
  if (!options_.progress || !leader()) return;
  const double seconds = std::chrono::duration<double>(Clock::now() - started_).count();
  const double rate = seconds > 0 ? static_cast<double>(examples_seen_) / seconds : 0.0;
  const double steps_per_second = seconds > 0 ? static_cast<double>(examples_seen_) /
                                                    static_cast<double>(trial_.batch_size) / seconds
                                              : 0.0;
  const Progress progress{
      .step = step_,
      .total_steps = total_steps_,
      .epoch = epoch,
      .loss = loss,
      .examples_per_second = rate,
      .eta_seconds = steps_per_second > 0
                         ? static_cast<double>(total_steps_ - step_) / steps_per_second
                         : 0.0};
  if (options_.on_progress) {
    options_.on_progress(progress);
  } else if (step_ % kPlainProgressEvery == 0 || step_ == total_steps_) {
    std::cerr << "step " << step_ << "/" << total_steps_ << " epoch " << epoch << " loss " << loss
              << " " << static_cast<int64_t>(rate) << " examples/s\n";
  }
}

absl::StatusOr<at::Tensor> Loop::GatherRngState(const at::Device& device) {
  // See Note [Generators of a worker group] in checkpoint.cc.
  const at::Tensor mine = RngState(device).contiguous();
  ISTAR_ASSIGN_OR_RETURN(
      const std::vector<std::byte> all,
      comm::AllGatherBytes(
          group_, std::span<const std::byte>(static_cast<const std::byte*>(mine.data_ptr()),
                                             static_cast<size_t>(mine.nbytes()))));
  return at::from_blob(const_cast<std::byte*>(all.data()), {group_.size(), mine.numel()}, at::kByte)
      .clone();
}

absl::StatusOr<GeneratorStates> Loop::GatherGenerators() {
  GeneratorStates states;
  if (device_.is_cuda()) states.cuda = device_;
  if (group_.size() == 1) return states;
  ISTAR_ASSIGN_OR_RETURN(states.cpu_by_rank, GatherRngState(at::kCPU));
  if (device_.is_cuda()) {
    ISTAR_ASSIGN_OR_RETURN(states.cuda_by_rank, GatherRngState(device_));
  }
  return states;
}

absl::Status Loop::Checkpoint(const CheckpointState& state, const at::Tensor* shrinkage,
                              const GeneratorStates& generators, ResultSink* sink) {
  const absl::Status synced = sink->Sync();
  if (absl::IsUnavailable(synced)) {
    std::cerr << "step " << step_ << ": checkpoint skipped, rows not yet delivered: "
              << synced.message() << "\n";
    return absl::OkStatus();
  }
  ISTAR_RETURN_IF_ERROR(synced);
  return SaveCheckpoint(trial_dir_, state, *model_.model, *optimizer_, shrinkage, &generators);
}

// Note [Peak GPU memory]: the largest of the ranks' peaks, since the epoch began (S0, training
// and evaluation), as the metric row train/peak_gpu_memory_bytes at the epoch's last step: what
// a user sizes batch_size and gradient_accumulation_steps by. Not written on CPUs.
absl::Status Loop::LogPeakGpuMemory(ResultSink* sink) {
  if (!device_.is_cuda()) return absl::OkStatus();
  std::vector<double> peaks(static_cast<size_t>(group_.size()), 0.0);
  peaks[static_cast<size_t>(group_.rank())] =
      static_cast<double>(PeakGpuMemory(device_).value_or(0));
  if (group_.size() > 1) ISTAR_RETURN_IF_ERROR(group_.AllReduceSum(std::span<double>(peaks)));
  const db::MetricRow row{.trial_id = trial_.id,
                          .step = step_,
                          .epoch = EpochPosition(),
                          .split = "train",
                          .name = "peak_gpu_memory_bytes",
                          .value = *std::max_element(peaks.begin(), peaks.end())};
  return OnLeader([&] { return sink->WriteMetrics(std::span<const db::MetricRow>(&row, 1)); });
}

absl::Status Loop::SaveOnStop(int64_t epoch, ResultSink* sink) {
  if (trial_dir_.empty() || step_ == saved_step_) return absl::OkStatus();
  ISTAR_ASSIGN_OR_RETURN(const GeneratorStates generators, GatherGenerators());
  ISTAR_RETURN_IF_ERROR(OnLeader([&]() -> absl::Status {
    if (!options_.checkpoint_on_stop || !options_.checkpoint_on_stop()) return absl::OkStatus();
    const at::Tensor* s0 = regularizer_.shrinkage.defined() ? &regularizer_.shrinkage : nullptr;
    return Checkpoint({.epoch = epoch, .step = step_, .mid_epoch = true}, s0, generators, sink);
  }));
  saved_step_ = step_;
  return absl::OkStatus();
}

absl::StatusOr<TrialResult> Loop::Run(ResultSink* sink) {
  TrialResult result;
  const int64_t every = std::max<int64_t>(1, trial_.training.isotropy_every_steps);
  const int64_t eval_every = trial_.training.eval_every_steps;
  for (int64_t epoch = start_epoch_; epoch < trial_.epochs; ++epoch) {
    // Batches of this epoch already taken before a preemption checkpoint (Note [Preemption
    // checkpoints] in checkpoint.cc): skipped, and the epoch's S0 is the saved one.
    const int64_t done_in_epoch = epoch == start_epoch_ ? step_ - epoch * steps_per_epoch_ : 0;
    ResetPeakGpuMemory(device_);
    if (NeedsShrinkage(regularizer_)) {
      if (done_in_epoch > 0 && resumed_shrinkage_.defined()) {
        regularizer_.shrinkage = resumed_shrinkage_;
      } else {
        ISTAR_RETURN_IF_ERROR(EstimateShrinkage());
      }
    }
    const std::vector<std::vector<int64_t>> batches = EpochBatches(
        static_cast<int64_t>(train_features_.size()), trial_.batch_size, trial_.seed, epoch, true);
    for (auto b = static_cast<size_t>(done_in_epoch); b < batches.size(); ++b) {
      const bool stop = options_.should_stop && options_.should_stop();
      ISTAR_ASSIGN_OR_RETURN(const double stopping_ranks, SumOverRanks(stop ? 1.0 : 0.0));
      if (stopping_ranks > 0) {
        ISTAR_RETURN_IF_ERROR(SaveOnStop(epoch, sink));
        return TrialResult{.status = TrialOutcome::kStopped, .steps = step_};
      }
      const bool log = step_ % every == 0 || b + 1 == batches.size();
      ISTAR_ASSIGN_OR_RETURN(StepOutcome outcome, Step(batches[b], log, sink));
      if (outcome.has_value())
        return TrialResult{.status = TrialOutcome::kFailed, .error = *outcome, .steps = step_};
      if (eval_every > 0 && step_ % eval_every == 0)
        ISTAR_RETURN_IF_ERROR(Evaluate(sink).status());
      ReportProgress(epoch, last_loss_);
    }
    ISTAR_ASSIGN_OR_RETURN(result.split_metrics, Evaluate(sink));
    ISTAR_RETURN_IF_ERROR(LogPeakGpuMemory(sink));
    if (!trial_dir_.empty()) {
      ISTAR_ASSIGN_OR_RETURN(const GeneratorStates generators, GatherGenerators());
      ISTAR_RETURN_IF_ERROR(OnLeader([&] {
        return Checkpoint({.epoch = epoch + 1, .step = step_}, nullptr, generators, sink);
      }));
      saved_step_ = step_;
    }
  }
  if (result.split_metrics.empty()) {  // resumed after the last epoch's checkpoint
    ISTAR_ASSIGN_OR_RETURN(result.split_metrics, Evaluate(sink));
  }
  // The first evaluation split's scores ("validation").
  result.final_metrics = result.split_metrics.at(eval_splits_.front().stored_name);
  ISTAR_RETURN_IF_ERROR(OnLeader(
      [&] { return sink->WriteFinalResults(trial_.id, FinalResults(result.split_metrics)); }));
  result.status = TrialOutcome::kDone;
  result.steps = step_;
  return result;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TrialLoop>> TrialLoop::Create(const sweeps::TrialSpec& trial,
                                                             const RunOptions& options,
                                                             comm::Communicator& group) {
  auto loop = std::make_unique<Loop>(trial, options, group);
  ISTAR_RETURN_IF_ERROR(
      comm::AgreeOnStatus(group, CatchTorch("LibTorch", [&] { return loop->Init(); })));
  ISTAR_RETURN_IF_ERROR(loop->Synchronize());
  return std::unique_ptr<TrialLoop>(std::move(loop));
}

}  // namespace istar::trainer::internal

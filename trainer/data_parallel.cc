// Data parallelism for one trial on a worker group: shards, the initial broadcast of weights and
// the bucketed gradient average (see trainer/data_parallel.h).
#include "trainer/data_parallel.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <algorithm>

#include "base/check.h"
#include "base/status_macros.h"
#include "comm/communicator.h"
#include "regularizers/tensor_collectives.h"

namespace istar::trainer {

Shard ShardOf(int64_t rows, int rank, int size) {
  ISTAR_CHECK(size >= 1 && rank >= 0 && rank < size);
  const int64_t base = rows / size;
  const int64_t extra = rows % size;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return Shard{.begin = begin, .end = begin + base + (rank < extra ? 1 : 0)};
}

absl::Status BroadcastModule(comm::Communicator& group, torch::nn::Module& module, int root) {
  if (group.size() == 1) return absl::OkStatus();
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> tensors = module.parameters(/*recurse=*/true);
  for (const at::Tensor& buffer : module.buffers(/*recurse=*/true)) tensors.push_back(buffer);
  for (at::Tensor& tensor : tensors) {
    if (tensor.is_contiguous()) {
      ISTAR_RETURN_IF_ERROR(regularizers::Broadcast(group, tensor, root));
    } else {
      at::Tensor copy = tensor.contiguous();
      ISTAR_RETURN_IF_ERROR(regularizers::Broadcast(group, copy, root));
      tensor.copy_(copy);
    }
  }
  return absl::OkStatus();
}

GradientAverager::GradientAverager(comm::Communicator& group, std::vector<at::Tensor> parameters,
                                   Options options)
    : group_(group), parameters_(std::move(parameters)), options_(options) {
  slot_.resize(parameters_.size());
  for (size_t k = parameters_.size(); k-- > 0;) {
    const at::Tensor& p = parameters_[k];
    ISTAR_CHECK(p.scalar_type() == parameters_.front().scalar_type());
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    if (buckets_.empty() ||
        (buckets_.back().elements * static_cast<int64_t>(p.element_size()) + bytes >
             options_.bucket_bytes &&
         !buckets_.back().parameters.empty())) {
      buckets_.emplace_back();
    }
    Bucket& bucket = buckets_.back();
    slot_[k] = {buckets_.size() - 1, bucket.parameters.size()};
    bucket.parameters.push_back(k);
    bucket.offsets.push_back(bucket.elements);
    bucket.elements += p.numel();
  }
  if (group_.size() == 1 || parameters_.empty()) return;
  const at::TensorOptions flat_options = parameters_.front().options().requires_grad(false);
  staged_ = options_.stage_through_host ||
            regularizers::NeedsHostStaging(group_, parameters_.front());
  for (Bucket& bucket : buckets_) {
    const auto flags = static_cast<int64_t>(bucket.parameters.size());
    bucket.flat = at::zeros({bucket.elements + flags}, flat_options);
    if (staged_) bucket.host = regularizers::HostBufferLike(bucket.flat);
  }
  if (options_.schedule != Schedule::kOverlapped) return;
  hooks_.assign(parameters_.size(), kNoHook);
  for (size_t k = 0; k < parameters_.size(); ++k) {
    // A frozen parameter never gets a gradient: no hook, and its flag stays 0 on every rank.
    if (!parameters_[k].requires_grad()) continue;
    hooks_[k] =
        parameters_[k].register_hook([this, k](const at::Tensor& grad) { OnGradient(k, grad); });
  }
}

GradientAverager::~GradientAverager() {
  for (size_t k = 0; k < hooks_.size(); ++k) {
    if (hooks_[k] != kNoHook) parameters_[k].remove_hook(hooks_[k]);
  }
}

int64_t GradientAverager::bytes_per_average() const {
  if (parameters_.empty()) return 0;
  int64_t elements = 0;
  for (const Bucket& bucket : buckets_) {
    elements += bucket.elements + static_cast<int64_t>(bucket.parameters.size());
  }
  return elements * static_cast<int64_t>(parameters_.front().element_size());
}

void GradientAverager::BeginBackward(bool last) {
  OpenStep();
  last_backward_ = last;
}

void GradientAverager::OpenStep() {
  if (step_open_) return;
  step_open_ = true;
  next_start_ = 0;
  for (Bucket& bucket : buckets_) {
    bucket.flat.zero_();
    bucket.arrived = 0;
  }
}

// Note [Bucket order]
// The ranks' collectives must match one for one, but autograd may finish the gradients in another
// order on each rank (a rank with no rows, other sequence lengths, other thread timing). So the
// order is not readiness: bucket k's all-reduce is started only after buckets 0..k-1's, and only
// once it is complete, whatever order its gradients came in. The buckets and their members come
// from the registration order and sizes of the parameters alone, the same on every rank. A bucket
// that never completes during the backward pass (a parameter without a gradient on this rank) is
// started by Average(), after every earlier one: the sequence of starts is 0, 1, ..., B-1 on every
// rank; only its timing differs.
void GradientAverager::OnGradient(size_t parameter, const at::Tensor& grad) {
  OpenStep();
  const auto [b, i] = slot_[parameter];
  Bucket& bucket = buckets_[b];
  const at::Tensor& p = parameters_[parameter];
  at::NoGradGuard no_grad;
  bucket.flat.slice(0, bucket.offsets[i], bucket.offsets[i] + p.numel()).add_(grad.reshape({-1}));
  bucket.flat
      .slice(0, bucket.elements + static_cast<int64_t>(i),
             bucket.elements + static_cast<int64_t>(i) + 1)
      .fill_(1.0);
  if (!last_backward_) return;
  if (++bucket.arrived == static_cast<int64_t>(bucket.parameters.size())) StartReadyBuckets();
}

void GradientAverager::StartReadyBuckets() {
  while (error_.ok() && next_start_ < buckets_.size() &&
         buckets_[next_start_].arrived ==
             static_cast<int64_t>(buckets_[next_start_].parameters.size())) {
    error_ = Start(buckets_[next_start_++]);
  }
}

absl::Status GradientAverager::Start(Bucket& bucket) {
  at::Tensor& data = staged_ ? bucket.host : bucket.flat;
  void* stream = nullptr;
  if (staged_) {
    regularizers::CopyToHost(bucket.flat, bucket.host);
  } else {
    stream = regularizers::CurrentStream(bucket.flat.device());
  }
  absl::StatusOr<std::unique_ptr<comm::Communicator::Pending>> pending;
  if (data.scalar_type() == at::kDouble) {
    pending =
        group_.StartAllReduceSum(std::span<double>(data.data_ptr<double>(), data.numel()), stream);
  } else {
    pending =
        group_.StartAllReduceSum(std::span<float>(data.data_ptr<float>(), data.numel()), stream);
  }
  ISTAR_RETURN_IF_ERROR(pending.status());
  bucket.pending = *std::move(pending);
  return absl::OkStatus();
}

absl::Status GradientAverager::Finish(Bucket& bucket) {
  const absl::Status done =
      bucket.pending->Finish(staged_ ? nullptr : regularizers::CurrentStream(bucket.flat.device()));
  bucket.pending.reset();
  ISTAR_RETURN_IF_ERROR(done);
  if (staged_) regularizers::CopyFromHost(bucket.host, bucket.flat);
  return absl::OkStatus();
}

// Note [Bucket layout]
// A bucket is one flat tensor: the gradients of its parameters one after another, then one flag
// per parameter (1 where this rank has a gradient). One all-reduce sums both; a parameter whose
// flags sum to 0 had no gradient anywhere and keeps none (AdamW skips it, as in one process),
// any other gets the sum divided by the group size, defined on every rank. The flags of every
// bucket are read back to the host together, once per step.
absl::Status GradientAverager::Average() {
  if (group_.size() == 1 || parameters_.empty()) return absl::OkStatus();
  at::NoGradGuard no_grad;
  OpenStep();
  const absl::Status status = AverageOpenStep();
  // The next step starts from empty buckets, whatever happened to this one.
  step_open_ = false;
  last_backward_ = true;
  error_ = absl::OkStatus();
  for (Bucket& bucket : buckets_) bucket.pending.reset();
  return status;
}

absl::Status GradientAverager::AverageOpenStep() {
  last_backward_ = true;
  if (options_.schedule == Schedule::kAfterBackward) {
    for (size_t k = 0; k < parameters_.size(); ++k) {
      if (parameters_[k].grad().defined()) OnGradient(k, parameters_[k].grad());
    }
  }
  // Buckets incomplete after the backward pass start now, in order (Note [Bucket order]).
  while (error_.ok() && next_start_ < buckets_.size()) error_ = Start(buckets_[next_start_++]);
  absl::Status status = std::exchange(error_, absl::OkStatus());
  for (size_t b = 0; b < next_start_; ++b) {
    if (buckets_[b].pending == nullptr) continue;
    const absl::Status finished = Finish(buckets_[b]);
    if (status.ok()) status = finished;
  }
  ISTAR_RETURN_IF_ERROR(status);
  std::vector<at::Tensor> flags;
  for (const Bucket& bucket : buckets_) flags.push_back(bucket.flat.slice(0, bucket.elements));
  const at::Tensor had = at::cat(flags).to(at::kCPU, at::kDouble);
  const double* had_gradient = had.data_ptr<double>();
  const double ranks = static_cast<double>(group_.size());
  for (Bucket& bucket : buckets_) {
    bucket.flat.slice(0, 0, bucket.elements).div_(ranks);
    for (size_t i = 0; i < bucket.parameters.size(); ++i, ++had_gradient) {
      if (*had_gradient == 0.0) continue;
      at::Tensor& p = parameters_[bucket.parameters[i]];
      const at::Tensor mean =
          bucket.flat.slice(0, bucket.offsets[i], bucket.offsets[i] + p.numel()).view_as(p);
      if (p.grad().defined()) {
        p.mutable_grad().copy_(mean);
      } else {
        p.mutable_grad() = mean.clone();
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace istar::trainer

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
                                   int64_t bucket_bytes)
    : group_(group), parameters_(std::move(parameters)) {
  for (size_t k = parameters_.size(); k-- > 0;) {
    const at::Tensor& p = parameters_[k];
    ISTAR_CHECK(p.scalar_type() == parameters_.front().scalar_type());
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    if (buckets_.empty() ||
        (buckets_.back().elements * static_cast<int64_t>(p.element_size()) + bytes >
             bucket_bytes &&
         !buckets_.back().parameters.empty())) {
      buckets_.emplace_back();
    }
    buckets_.back().parameters.push_back(k);
    buckets_.back().elements += p.numel();
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

// Note [Bucket layout]
// A bucket is one flat tensor: the gradients of its parameters one after another, then one flag
// per parameter (1 where this rank has a gradient). One all-reduce sums both; a parameter whose
// flags sum to 0 had no gradient anywhere and keeps none (AdamW skips it, as in one process),
// any other gets the sum divided by the group size, defined on every rank.
absl::Status GradientAverager::Average() {
  if (group_.size() == 1 || parameters_.empty()) return absl::OkStatus();
  at::NoGradGuard no_grad;
  const double ranks = static_cast<double>(group_.size());
  for (const Bucket& bucket : buckets_) {
    const auto flags = static_cast<int64_t>(bucket.parameters.size());
    at::Tensor flat = at::zeros({bucket.elements + flags}, parameters_.front().options());
    int64_t offset = 0;
    for (size_t i = 0; i < bucket.parameters.size(); ++i) {
      const at::Tensor& p = parameters_[bucket.parameters[i]];
      const at::Tensor& grad = p.grad();
      if (grad.defined()) {
        flat.slice(0, offset, offset + p.numel()).copy_(grad.reshape({-1}));
        flat[bucket.elements + static_cast<int64_t>(i)] = 1.0;
      }
      offset += p.numel();
    }
    ISTAR_RETURN_IF_ERROR(regularizers::AllReduceSum(group_, flat));
    flat.slice(0, 0, bucket.elements).div_(ranks);
    const at::Tensor had = flat.slice(0, bucket.elements).to(at::kCPU, at::kDouble);
    const double* had_gradient = had.data_ptr<double>();
    offset = 0;
    for (size_t i = 0; i < bucket.parameters.size(); ++i) {
      at::Tensor& p = parameters_[bucket.parameters[i]];
      if (had_gradient[i] != 0.0) {
        const at::Tensor mean = flat.slice(0, offset, offset + p.numel()).view_as(p);
        if (p.grad().defined()) {
          p.mutable_grad().copy_(mean);
        } else {
          p.mutable_grad() = mean.clone();
        }
      }
      offset += p.numel();
    }
  }
  return absl::OkStatus();
}

}  // namespace istar::trainer

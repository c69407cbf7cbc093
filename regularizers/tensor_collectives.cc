// Tensor collectives over a comm::Communicator, and the differentiable all-reduce behind
// MakeCrossRankSum.
#include "regularizers/tensor_collectives.h"

#include <ATen/ATen.h>
#include <c10/core/impl/VirtualGuardImpl.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "comm/communicator.h"

namespace istar::regularizers {
namespace {

using Memory = comm::Communicator::Memory;

// Whether `tensor` goes to `group` through a host copy; InvalidArgument if it can never go.
absl::StatusOr<bool> CheckPlacement(const comm::Communicator& group, const at::Tensor& tensor,
                                    const char* what) {
  if (!tensor.defined()) return absl::InvalidArgumentError(absl::StrCat(what, ": undefined tensor"));
  if (!tensor.is_contiguous()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": the tensor must be contiguous"));
  }
  if (group.memory() == Memory::kCuda && !tensor.is_cuda()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": an NCCL communicator needs CUDA tensors, got one on ",
                     tensor.device().str()));
  }
  return NeedsHostStaging(group, tensor);
}

// Runs `collective(t, stream)` on `tensor`'s memory, ordered on LibTorch's current stream, or
// through a host copy when the group needs one (Note [Host staging]).
template <typename Collective>
absl::Status OnMemoryOf(comm::Communicator& group, at::Tensor& tensor, const char* what,
                        Collective collective) {
  ISTAR_ASSIGN_OR_RETURN(const bool stage, CheckPlacement(group, tensor, what));
  if (!stage) return collective(tensor, CurrentStream(tensor.device()));
  at::Tensor host = HostBufferLike(tensor);
  CopyToHost(tensor, host);
  ISTAR_RETURN_IF_ERROR(collective(host, nullptr));
  CopyFromHost(host, tensor);
  return absl::OkStatus();
}

void ThrowIfError(const absl::Status& status) {
  TORCH_CHECK(status.ok(), "cross-rank sum: ", std::string(status.ToString()));
}

// Note [Differentiable all-reduce]
// y = sum_r x_r on every rank. Each rank's loss L_r depends on y, and the group's objective is
// sum_r L_r, so dObjective/dx_r = sum_s dL_s/dy: the backward pass is itself an all-reduce of
// the incoming gradients. Autograd visits this node on every rank in the same order relative to
// the other all-reduces of the step (the graph downstream of y is the same on every rank, and
// the second all-reduce of SumOverRanks depends on the first), so the backward collectives match.
class AllReduceFunction : public torch::autograd::Function<AllReduceFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& local,
                            int64_t group_address) {
    ctx->saved_data["group"] = group_address;
    at::Tensor total = local.detach().contiguous().clone();
    ThrowIfError(AllReduceSum(Group(group_address), total));
    return total;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    at::Tensor grad = grads[0].contiguous().clone();
    ThrowIfError(AllReduceSum(Group(ctx->saved_data["group"].toInt()), grad));
    return {grad, at::Tensor()};
  }

 private:
  // The communicator travels through autograd's saved data as an integer address: the
  // CommunicatorSum that created the node outlives the step (its contract).
  static comm::Communicator& Group(int64_t address) {
    return *reinterpret_cast<comm::Communicator*>(static_cast<intptr_t>(address));
  }
};

class CommunicatorSum final : public CrossRankSum {
 public:
  explicit CommunicatorSum(comm::Communicator& group) : group_(group) {}
  int world_size() const override { return group_.size(); }
  int rank() const override { return group_.rank(); }
  at::Tensor Sum(const at::Tensor& local) const override {
    return AllReduceFunction::apply(local,
                                    static_cast<int64_t>(reinterpret_cast<intptr_t>(&group_)));
  }

 private:
  comm::Communicator& group_;
};

}  // namespace

absl::Status AllReduceSum(comm::Communicator& group, at::Tensor& tensor) {
  if (tensor.defined() && tensor.scalar_type() != at::kFloat &&
      tensor.scalar_type() != at::kDouble) {
    return absl::InvalidArgumentError(absl::StrCat("all-reduce: tensors must be float32 or float64, got ",
                                                   c10::toString(tensor.scalar_type())));
  }
  return OnMemoryOf(group, tensor, "all-reduce", [&](at::Tensor& t, void* stream) {
    if (t.scalar_type() == at::kFloat) {
      return comm::AllReduceSumOnStream(group, std::span<float>(t.data_ptr<float>(), t.numel()),
                                        stream);
    }
    return comm::AllReduceSumOnStream(group, std::span<double>(t.data_ptr<double>(), t.numel()),
                                      stream);
  });
}

absl::Status Broadcast(comm::Communicator& group, at::Tensor& tensor, int root) {
  return OnMemoryOf(group, tensor, "broadcast", [&](at::Tensor& t, void* stream) {
    return group.BroadcastOnStream(
        std::span<std::byte>(static_cast<std::byte*>(t.data_ptr()), t.nbytes()), root, stream);
  });
}

bool NeedsHostStaging(const comm::Communicator& group, const at::Tensor& tensor) {
  return group.memory() == Memory::kHost && !tensor.is_cpu();
}

at::Tensor HostBufferLike(const at::Tensor& tensor) {
  return at::empty(tensor.sizes(),
                   tensor.options().device(at::kCPU).pinned_memory(tensor.is_cuda()));
}

void CopyToHost(const at::Tensor& from, at::Tensor& host) {
  host.copy_(from, /*non_blocking=*/from.is_cuda());
  if (from.is_cuda()) {
    c10::impl::VirtualGuardImpl guard(from.device().type());
    guard.getStream(from.device()).synchronize();  // MPI reads `host` next, on the host
  }
}

void CopyFromHost(const at::Tensor& host, at::Tensor& to) {
  // From pinned memory the copy is asynchronous on the current stream; LibTorch's pinned-memory
  // allocator keeps `host` alive until the copy is done.
  to.copy_(host, /*non_blocking=*/to.is_cuda());
}

std::unique_ptr<CrossRankSum> MakeCrossRankSum(comm::Communicator& group) {
  return std::make_unique<CommunicatorSum>(group);
}

}  // namespace istar::regularizers

// File: regularizers/tensor_collectives.h
// -----------------------------------------------------------------------------
// Tensors over a worker group's comm::Communicator (LibTorch): an in-place sum all-reduce and a
// broadcast of tensors, and the differentiable CrossRankSum that makes IsoScore* and CosReg
// global over a worker group (docs/isotropy.md, "Covariance statistics"). comm/ speaks buffers
// and links no LibTorch; this file is where tensors become buffers.
//
// Example (every rank of an mpirun job):
//
//   std::unique_ptr<regularizers::CrossRankSum> ranks = regularizers::MakeCrossRankSum(*group);
//   ISTAR_ASSIGN_OR_RETURN(at::Tensor iso, IsoScoreStar(hidden, {}, {.ranks = ranks.get()}));
//   (lambda * (1 - iso)).backward();   // every rank's gradient is that of the whole batch
//
// Memory: an NCCL communicator needs CUDA tensors on its device; its collectives are ordered on
// LibTorch's current stream (queued behind the kernels that produced the tensor, and the kernels
// queued after see the result) with no host synchronization and no copy through host memory. A
// communicator over host memory (Local, MPI) given a CUDA tensor stages it through a pinned host
// buffer (Note [Host staging]).
//
// Thread safety: as the communicator's: one thread at a time, and the same collectives in the
// same order on every rank (comm/communicator.h).
#ifndef ISTAR_REGULARIZERS_TENSOR_COLLECTIVES_H_
#define ISTAR_REGULARIZERS_TENSOR_COLLECTIVES_H_

#include <ATen/core/Tensor.h>

#include <memory>

#include "absl/status/status.h"
#include "regularizers/isotropy.h"

namespace istar::comm {
class Communicator;
}  // namespace istar::comm

namespace istar::regularizers {

// Replaces `tensor` (float32 or float64, contiguous) with its element-wise sum over the ranks of
// `group`, in place. Not differentiable: for gradients use MakeCrossRankSum. InvalidArgument for
// another dtype, a non-contiguous tensor, or a CPU tensor given to an NCCL communicator; the
// communicator's errors otherwise.
[[nodiscard]] absl::Status AllReduceSum(comm::Communicator& group, at::Tensor& tensor);

// Copies rank `root`'s `tensor` (any dtype, contiguous, the same shape on every rank) into
// `tensor` on every rank, in place. Errors as AllReduceSum.
[[nodiscard]] absl::Status Broadcast(comm::Communicator& group, at::Tensor& tensor, int root);

// A CrossRankSum over the ranks of `group`, which must outlive it. Sum() is a differentiable
// all-reduce: its backward pass all-reduces the incoming gradient, so that each rank receives
// the gradient of the sum with respect to its own contribution from every rank's loss. Sum()
// returns a tensor, not a Status: a failed collective throws c10::Error with the communicator's
// message (the trainer's LibTorch boundary turns it into a Status).
std::unique_ptr<CrossRankSum> MakeCrossRankSum(comm::Communicator& group);

// LibTorch's current CUDA stream on `device` as a comm::Communicator::Stream (a cudaStream_t);
// null for a CPU device, and in a LibTorch built without CUDA.
void* CurrentStream(const at::Device& device);

// Note [Host staging]
// A GPU worker group without NCCL all-reduces over MPI, which reads host memory. Each tensor then
// goes device -> pinned host buffer (an asynchronous copy, then a wait on the stream so that MPI
// reads finished data) -> MPI -> device (asynchronous from pinned memory, ordered on the stream).
// The pieces are public so that the gradient buckets (trainer/data_parallel.h) stage the same
// way; with a CPU tensor they copy through ordinary host memory, which is how the tests exercise
// them on machines without a GPU.

// True when `tensor` must be staged for `group`: a host-memory communicator and a tensor that is
// not on the CPU.
bool NeedsHostStaging(const comm::Communicator& group, const at::Tensor& tensor);
// An uninitialized host tensor of `tensor`'s shape and dtype, pinned when `tensor` is on a GPU.
at::Tensor HostBufferLike(const at::Tensor& tensor);
// host <- from; returns once `host` holds the data (for a GPU `from`, after a wait on its stream).
void CopyToHost(const at::Tensor& from, at::Tensor& host);
// to <- host, queued on `to`'s current stream when `to` is on a GPU.
void CopyFromHost(const at::Tensor& host, at::Tensor& to);

}  // namespace istar::regularizers

#endif  // ISTAR_REGULARIZERS_TENSOR_COLLECTIVES_H_

// NcclCommunicator: collectives on device buffers over NCCL. Compiled only when CMake found NCCL
// and the CUDA runtime (ISTAR_HAVE_NCCL; see comm/CMakeLists.txt); otherwise nccl_unavailable.cc.
#include <cuda_runtime.h>
#include <nccl.h>

#include <array>
#include <cstddef>
#include <cstring>
#include <memory>
#include <span>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "comm/communicator.h"
#include "comm/internal/nccl_status.h"

namespace istar::comm {
namespace {

// Owns an NCCL communicator, the CUDA stream its collectives run on, and one device float used by
// Barrier(). After any NCCL or CUDA failure the communicator is "broken": later calls fail at once,
// and the destructor aborts it (ncclCommAbort) instead of waiting for peers that may never come.
class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(int rank, int size, int device) : rank_(rank), size_(size), device_(device) {}
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;
  ~NcclCommunicator() noexcept override {
    cudaSetDevice(device_);
    if (comm_ != nullptr) {
      if (broken_) {
        ncclCommAbort(comm_);
      } else {
        ncclCommDestroy(comm_);
      }
    }
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
    if (scratch_ != nullptr) cudaFree(scratch_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  // Collective over `bootstrap`: shares rank 0's unique id, then creates the NCCL communicator
  // once every rank has its CUDA resources (so that no rank waits in ncclCommInitRank for a rank
  // that already failed).
  absl::Status Init(Communicator& bootstrap);

  absl::Status AllReduceSum(std::span<float> data) override {
    return Guard(AllReduce(data.data(), data.size(), ncclFloat));
  }
  absl::Status AllReduceSum(std::span<double> data) override {
    return Guard(AllReduce(data.data(), data.size(), ncclDouble));
  }
  absl::Status Broadcast(std::span<std::byte> data, int root) override;
  absl::Status Barrier() override { return Guard(AllReduce(scratch_, 1, ncclFloat)); }
  Memory memory() const override { return Memory::kCuda; }

  absl::StatusOr<std::unique_ptr<Pending>> StartAllReduceSum(std::span<float> data,
                                                             Stream stream) override {
    return Start(data.data(), data.size(), ncclFloat, stream);
  }
  absl::StatusOr<std::unique_ptr<Pending>> StartAllReduceSum(std::span<double> data,
                                                             Stream stream) override {
    return Start(data.data(), data.size(), ncclDouble, stream);
  }
  absl::Status BroadcastOnStream(std::span<std::byte> data, int root, Stream stream) override;

  // Makes `stream` wait for `done` (a collective's end on stream_), watching NCCL's errors.
  absl::Status FinishOn(cudaEvent_t done, Stream stream);

 private:
  absl::Status Guard(absl::Status status) {
    if (!status.ok() && !absl::IsInvalidArgument(status)) broken_ = true;
    return status;
  }
  absl::Status CheckUsable() const;
  absl::Status AllReduce(void* data, size_t count, ncclDataType_t type);
  // Queues stream_ behind the work on `stream`, then `collective` on stream_, and returns the
  // event recorded after it (owned by the caller). See Note [Collectives in flight].
  template <typename Collective>
  absl::StatusOr<cudaEvent_t> Enqueue(Stream stream, const char* what, Collective collective);
  absl::StatusOr<std::unique_ptr<Pending>> Start(void* data, size_t count, ncclDataType_t type,
                                                 Stream stream);
  absl::Status Wait(const char* what);

  const int rank_;
  const int size_;
  const int device_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  float* scratch_ = nullptr;
  bool broken_ = false;
};

absl::Status NcclCommunicator::Init(Communicator& bootstrap) {
  // Byte 0: rank 0's ncclResult_t from ncclGetUniqueId, so that every rank fails alike. The id
  // follows.
  std::array<std::byte, 1 + sizeof(ncclUniqueId)> message{};
  ncclUniqueId id;
  if (rank_ == 0) {
    message[0] = static_cast<std::byte>(ncclGetUniqueId(&id));
    std::memcpy(message.data() + 1, &id, sizeof(id));
  }
  ISTAR_RETURN_IF_ERROR(bootstrap.Broadcast(message, 0));
  ISTAR_NCCL_RETURN_IF_ERROR(static_cast<ncclResult_t>(message[0]),
                             "creating the NCCL unique id on rank 0");
  std::memcpy(&id, message.data() + 1, sizeof(id));

  absl::Status local = [&]() -> absl::Status {
    ISTAR_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_), absl::StrCat("selecting device ", device_));
    ISTAR_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking),
                               "creating the NCCL stream");
    ISTAR_CUDA_RETURN_IF_ERROR(cudaMalloc(&scratch_, sizeof(float)), "allocating barrier scratch");
    return absl::OkStatus();
  }();
  // Every rank learns whether any rank failed, and all stop together (docs/comm.md, "The
  // ordering rule").
  std::array<float, 1> failures = {local.ok() ? 0.0f : 1.0f};
  ISTAR_RETURN_IF_ERROR(bootstrap.AllReduceSum(failures));
  ISTAR_RETURN_IF_ERROR(local);
  if (failures[0] != 0.0f) {
    return absl::AbortedError(
        absl::StrCat(failures[0], " rank(s) could not set up CUDA for the NCCL communicator"));
  }
  return Guard([&]() -> absl::Status {
    ISTAR_NCCL_RETURN_IF_ERROR(ncclCommInitRank(&comm_, size_, id, rank_),
                               absl::StrCat("ncclCommInitRank on rank ", rank_, " of ", size_));
    return absl::OkStatus();
  }());
}

absl::Status NcclCommunicator::CheckUsable() const {
  if (broken_) {
    return absl::FailedPreconditionError("the NCCL communicator failed earlier and was aborted");
  }
  return absl::OkStatus();
}

absl::Status NcclCommunicator::AllReduce(void* data, size_t count, ncclDataType_t type) {
  ISTAR_RETURN_IF_ERROR(CheckUsable());
  ISTAR_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_), "selecting the communicator's device");
  ISTAR_NCCL_RETURN_IF_ERROR(ncclAllReduce(data, data, count, type, ncclSum, comm_, stream_),
                             absl::StrCat("all-reduce (sum) of ", count, " elements"));
  return Wait("all-reduce");
}

absl::Status NcclCommunicator::Broadcast(std::span<std::byte> data, int root) {
  if (root < 0 || root >= size_) {
    return absl::InvalidArgumentError(
        absl::StrCat("broadcast root ", root, " is not a rank of a group of ", size_));
  }
  return Guard([&]() -> absl::Status {
    ISTAR_RETURN_IF_ERROR(CheckUsable());
    ISTAR_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_), "selecting the communicator's device");
    ISTAR_NCCL_RETURN_IF_ERROR(
        ncclBroadcast(data.data(), data.data(), data.size(), ncclUint8, root, comm_, stream_),
        absl::StrCat("broadcast of ", data.size(), " bytes from root ", root));
    return Wait("broadcast");
  }());
}

// Waits for the stream like cudaStreamSynchronize, but also watches NCCL's asynchronous error, so
// that a peer's failure becomes a Status instead of a hang.
absl::Status NcclCommunicator::Wait(const char* what) {
  while (true) {
    const cudaError_t state = cudaStreamQuery(stream_);
    if (state == cudaSuccess) return absl::OkStatus();
    if (state != cudaErrorNotReady) {
      ISTAR_CUDA_RETURN_IF_ERROR(state, absl::StrCat("waiting for the ", what));
    }
    ncclResult_t async = ncclSuccess;
    ISTAR_NCCL_RETURN_IF_ERROR(ncclCommGetAsyncError(comm_, &async), "reading NCCL's async error");
    ISTAR_NCCL_RETURN_IF_ERROR(async, absl::StrCat("asynchronous error during the ", what));
  }
}

// A collective queued on the communicator's stream; `done_` is recorded after it.
class NcclPending final : public Communicator::Pending {
 public:
  NcclPending(NcclCommunicator& owner, cudaEvent_t done) : owner_(owner), done_(done) {}
  NcclPending(const NcclPending&) = delete;
  NcclPending& operator=(const NcclPending&) = delete;
  ~NcclPending() noexcept override {
    if (done_ == nullptr) return;
    if (!finished_) cudaEventSynchronize(done_);
    cudaEventDestroy(done_);
  }
  absl::Status Finish(Communicator::Stream stream) override {
    finished_ = true;
    return owner_.FinishOn(done_, stream);
  }

 private:
  NcclCommunicator& owner_;
  cudaEvent_t done_;
  bool finished_ = false;
};

template <typename Collective>
absl::StatusOr<cudaEvent_t> NcclCommunicator::Enqueue(Stream stream, const char* what,
                                                      Collective collective) {
  ISTAR_RETURN_IF_ERROR(CheckUsable());
  auto caller = static_cast<cudaStream_t>(stream);
  cudaEvent_t ready = nullptr;
  cudaEvent_t done = nullptr;
  absl::Status status = [&]() -> absl::Status {
    ISTAR_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_), "selecting the communicator's device");
    ISTAR_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming),
                               absl::StrCat("creating an event for the ", what));
    ISTAR_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&done, cudaEventDisableTiming),
                               absl::StrCat("creating an event for the ", what));
    ISTAR_CUDA_RETURN_IF_ERROR(cudaEventRecord(ready, caller),
                               absl::StrCat("marking the data of the ", what, " ready"));
    ISTAR_CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(stream_, ready, 0),
                               absl::StrCat("queueing the ", what, " behind its data"));
    ISTAR_RETURN_IF_ERROR(collective());
    ISTAR_CUDA_RETURN_IF_ERROR(cudaEventRecord(done, stream_),
                               absl::StrCat("marking the end of the ", what));
    return absl::OkStatus();
  }();
  // An event may be destroyed while work waits on it: CUDA frees it once that work is done.
  if (ready != nullptr) cudaEventDestroy(ready);
  if (!status.ok()) {
    if (done != nullptr) cudaEventDestroy(done);
    return Guard(status);
  }
  return done;
}

absl::StatusOr<std::unique_ptr<Communicator::Pending>> NcclCommunicator::Start(void* data,
                                                                               size_t count,
                                                                               ncclDataType_t type,
                                                                               Stream stream) {
  ISTAR_ASSIGN_OR_RETURN(cudaEvent_t done, Enqueue(stream, "all-reduce", [&]() -> absl::Status {
                           ISTAR_NCCL_RETURN_IF_ERROR(
                               ncclAllReduce(data, data, count, type, ncclSum, comm_, stream_),
                               absl::StrCat("all-reduce (sum) of ", count, " elements"));
                           return absl::OkStatus();
                         }));
  return std::unique_ptr<Pending>(std::make_unique<NcclPending>(*this, done));
}

absl::Status NcclCommunicator::BroadcastOnStream(std::span<std::byte> data, int root,
                                                 Stream stream) {
  if (root < 0 || root >= size_) {
    return absl::InvalidArgumentError(
        absl::StrCat("broadcast root ", root, " is not a rank of a group of ", size_));
  }
  ISTAR_ASSIGN_OR_RETURN(
      cudaEvent_t done, Enqueue(stream, "broadcast", [&]() -> absl::Status {
        ISTAR_NCCL_RETURN_IF_ERROR(
            ncclBroadcast(data.data(), data.data(), data.size(), ncclUint8, root, comm_, stream_),
            absl::StrCat("broadcast of ", data.size(), " bytes from root ", root));
        return absl::OkStatus();
      }));
  NcclPending pending(*this, done);
  return pending.Finish(stream);
}

absl::Status NcclCommunicator::FinishOn(cudaEvent_t done, Stream stream) {
  return Guard([&]() -> absl::Status {
    ISTAR_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_), "selecting the communicator's device");
    ISTAR_CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(static_cast<cudaStream_t>(stream), done, 0),
                               "queueing the caller's stream behind a collective");
    // A peer's failure shows here as NCCL's asynchronous error (the GPU itself is not waited on).
    ncclResult_t async = ncclSuccess;
    ISTAR_NCCL_RETURN_IF_ERROR(ncclCommGetAsyncError(comm_, &async), "reading NCCL's async error");
    ISTAR_NCCL_RETURN_IF_ERROR(async, "asynchronous error of a collective");
    return absl::OkStatus();
  }());
}

}  // namespace

absl::StatusOr<std::unique_ptr<Communicator>> CreateNcclCommunicator(Communicator& bootstrap,
                                                                     int device) {
  auto communicator =
      std::make_unique<NcclCommunicator>(bootstrap.rank(), bootstrap.size(), device);
  ISTAR_RETURN_IF_ERROR(communicator->Init(bootstrap));
  return communicator;
}

}  // namespace istar::comm

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

 private:
  absl::Status Guard(absl::Status status) {
    if (!status.ok() && !absl::IsInvalidArgument(status)) broken_ = true;
    return status;
  }
  absl::Status CheckUsable() const;
  absl::Status AllReduce(void* data, size_t count, ncclDataType_t type);
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
  // Every rank learns whether any rank failed, and all stop together (STYLE.md §6).
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

}  // namespace

absl::StatusOr<std::unique_ptr<Communicator>> CreateNcclCommunicator(Communicator& bootstrap,
                                                                     int device) {
  auto communicator =
      std::make_unique<NcclCommunicator>(bootstrap.rank(), bootstrap.size(), device);
  ISTAR_RETURN_IF_ERROR(communicator->Init(bootstrap));
  return communicator;
}

}  // namespace istar::comm

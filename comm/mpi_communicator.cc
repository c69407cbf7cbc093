// MpiSession and MpiCommunicator: MPI's lifetime in the process, and collectives over a duplicate
// of MPI_COMM_WORLD with MPI_ERRORS_RETURN (see comm/communicator.h).
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "comm/communicator.h"
#include "comm/internal/error_status.h"
#include "comm/internal/mpi_status.h"

namespace istar::comm {
namespace internal {

absl::Status MpiStatus(int code, const char* file, int line, std::string_view reason) {
  if (code == MPI_SUCCESS) return absl::OkStatus();
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) {
    length = std::snprintf(text, sizeof(text), "unknown MPI error %d", code);
  }
  return LibraryError(file, line, "MPI", std::string_view(text, std::max(length, 0)), reason);
}

}  // namespace internal

namespace {

// MPI counts elements in int; longer buffers go in chunks of at most this many elements.
constexpr size_t kMaxChunk = INT_MAX;

bool MpiFinalized() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  return finalized != 0;
}

// The requests of one non-blocking all-reduce (one per chunk of kMaxChunk elements).
class MpiPending final : public Communicator::Pending {
 public:
  explicit MpiPending(size_t elements) : elements_(elements) {}
  MpiPending(const MpiPending&) = delete;
  MpiPending& operator=(const MpiPending&) = delete;
  ~MpiPending() noexcept override {
    if (!requests_.empty() && !MpiFinalized()) {
      MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE);
    }
  }
  void Add(MPI_Request request) { requests_.push_back(request); }

  absl::Status Finish(Communicator::Stream) override {
    std::vector<MPI_Request> requests;
    requests.swap(requests_);
    ISTAR_MPI_RETURN_IF_ERROR(
        MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE),
        absl::StrCat("finishing the all-reduce (sum) of ", elements_, " elements"));
    return absl::OkStatus();
  }

 private:
  const size_t elements_;
  std::vector<MPI_Request> requests_;
};

// A duplicate of MPI_COMM_WORLD with MPI_ERRORS_RETURN. Owns the MPI_Comm.
class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(MPI_Comm comm, int rank, int size) : comm_(comm), rank_(rank), size_(size) {}
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;
  ~MpiCommunicator() noexcept override {
    // Freeing after MPI_Finalize is an error; the session's contract is that we die first.
    if (!MpiFinalized()) MPI_Comm_free(&comm_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  absl::Status AllReduceSum(std::span<float> data) override {
    return AllReduce(data.data(), data.size(), MPI_FLOAT);
  }
  absl::Status AllReduceSum(std::span<double> data) override {
    return AllReduce(data.data(), data.size(), MPI_DOUBLE);
  }

  absl::Status Broadcast(std::span<std::byte> data, int root) override {
    // An empty buffer still goes through MPI once, so that a bad root is reported as MPI sees it.
    size_t offset = 0;
    do {
      const size_t count = std::min(data.size() - offset, kMaxChunk);
      ISTAR_MPI_RETURN_IF_ERROR(
          MPI_Bcast(data.data() + offset, static_cast<int>(count), MPI_BYTE, root, comm_),
          absl::StrCat("broadcast of ", data.size(), " bytes from root ", root));
      offset += count;
    } while (offset < data.size());
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<Pending>> StartAllReduceSum(std::span<float> data,
                                                             Stream) override {
    return StartAllReduce(data.data(), data.size(), MPI_FLOAT);
  }
  absl::StatusOr<std::unique_ptr<Pending>> StartAllReduceSum(std::span<double> data,
                                                             Stream) override {
    return StartAllReduce(data.data(), data.size(), MPI_DOUBLE);
  }

  absl::Status Barrier() override {
    ISTAR_MPI_RETURN_IF_ERROR(MPI_Barrier(comm_), "barrier");
    return absl::OkStatus();
  }

 private:
  template <typename T>
  absl::Status AllReduce(T* data, size_t size, MPI_Datatype type) {
    for (size_t offset = 0; offset < size; offset += kMaxChunk) {
      const size_t count = std::min(size - offset, kMaxChunk);
      ISTAR_MPI_RETURN_IF_ERROR(
          MPI_Allreduce(MPI_IN_PLACE, data + offset, static_cast<int>(count), type, MPI_SUM, comm_),
          absl::StrCat("all-reduce (sum) of ", size, " elements"));
    }
    return absl::OkStatus();
  }

  template <typename T>
  absl::StatusOr<std::unique_ptr<Pending>> StartAllReduce(T* data, size_t size, MPI_Datatype type) {
    auto pending = std::make_unique<MpiPending>(size);
    for (size_t offset = 0; offset < size; offset += kMaxChunk) {
      const size_t count = std::min(size - offset, kMaxChunk);
      MPI_Request request = MPI_REQUEST_NULL;
      ISTAR_MPI_RETURN_IF_ERROR(
          MPI_Iallreduce(MPI_IN_PLACE, data + offset, static_cast<int>(count), type, MPI_SUM, comm_,
                         &request),
          absl::StrCat("starting the all-reduce (sum) of ", size, " elements"));
      pending->Add(request);
    }
    return std::unique_ptr<Pending>(std::move(pending));
  }

  MPI_Comm comm_;
  const int rank_;
  const int size_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<MpiSession>> MpiSession::Start(int* argc, char*** argv) {
  int initialized = 0;
  ISTAR_MPI_RETURN_IF_ERROR(MPI_Initialized(&initialized), "asking whether MPI is initialized");
  if (initialized != 0 || MpiFinalized()) {
    return absl::FailedPreconditionError(
        "MPI was already initialized in this process; create one MpiSession, in main");
  }
  // Note [MPI threads]
  // MPI_THREAD_SERIALIZED, not FUNNELED: LibTorch runs the backward pass of CUDA tensors on its
  // own per-device threads, and the collectives inside it (the gradient buckets started by
  // autograd hooks, the differentiable all-reduce of the regularizers) reach MPI from there when a
  // GPU group has no NCCL. The thread that called backward() waits meanwhile, so calls never
  // overlap, which is what SERIALIZED promises MPI.
  int provided = MPI_THREAD_SINGLE;
  ISTAR_MPI_RETURN_IF_ERROR(MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided),
                            "initializing MPI with MPI_THREAD_SERIALIZED");
  // Owns MPI from here on, so that an early return below still finalizes.
  std::unique_ptr<MpiSession> session(new MpiSession());
  if (provided < MPI_THREAD_SERIALIZED) {
    return absl::InternalError(absl::StrCat("MPI provides thread level ", provided,
                                            ", below MPI_THREAD_SERIALIZED (",
                                            MPI_THREAD_SERIALIZED, ")"));
  }
  return session;
}

void MpiSession::Abort(int exit_code) const {
  MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::_Exit(exit_code);  // MPI_Abort should not return; if it does, still end the process.
}

MpiSession::~MpiSession() noexcept {
  if (!MpiFinalized()) MPI_Finalize();
}

absl::StatusOr<std::unique_ptr<Communicator>> CreateMpiCommunicator(const MpiSession&) {
  MPI_Comm comm = MPI_COMM_NULL;
  ISTAR_MPI_RETURN_IF_ERROR(MPI_Comm_dup(MPI_COMM_WORLD, &comm), "duplicating MPI_COMM_WORLD");
  // Owned before the next call can fail.
  int rank = 0;
  int size = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  auto owner = std::make_unique<MpiCommunicator>(comm, rank, size);
  ISTAR_MPI_RETURN_IF_ERROR(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN),
                            "setting MPI_ERRORS_RETURN on the communicator");
  return owner;
}

}  // namespace istar::comm

// File: comm/communicator.h
// -----------------------------------------------------------------------------
// The Communicator: collectives over plain buffers (all-reduce, broadcast, barrier) for the ranks
// of one worker group. comm/ speaks buffers, not tensors (docs/architecture.md, "Rules"); it
// links no LibTorch.
//
// Implementations:
//   LocalCommunicator        one process (size 1): all-reduce is the identity, broadcast a no-op.
//   CreateMpiCommunicator()  every process of an mpirun job, over a private copy of
//                            MPI_COMM_WORLD; buffers live in host memory.
//   CreateNcclCommunicator() GPU buffers (device pointers) over NCCL, bootstrapped through another
//                            Communicator; Unimplemented when istar was built without NCCL.
//
// Example:
//
//   int main(int argc, char** argv) {
//     ISTAR_ASSIGN_OR_RETURN(auto session, comm::MpiSession::Start(&argc, &argv));
//     ISTAR_ASSIGN_OR_RETURN(auto comm, comm::CreateMpiCommunicator(*session));
//     std::vector<double> sums = LocalSums();
//     ISTAR_RETURN_IF_ERROR(comm->AllReduceSum(std::span<double>(sums)));
//   }
//
// Thread safety: a Communicator is used by one thread at a time (MpiSession asks MPI for
// MPI_THREAD_SERIALIZED: any thread may call MPI, never two at once; see Note [MPI threads]).
#ifndef ISTAR_COMM_COMMUNICATOR_H_
#define ISTAR_COMM_COMMUNICATOR_H_

#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace istar::comm {

// A group of `size()` ranks that take part in collectives together.
//
// Ordering rule (docs/comm.md, "The ordering rule"): every rank must issue the same collectives,
// with the same buffer sizes and roots, in the same order. A rank that skips one, or calls them
// in another order, makes the group hang or mixes data between calls. So a rank that fails must
// not stop participating on its own: it records its Status and the group agrees at the next step
// boundary (for example by all-reducing an error flag), then every rank stops together.
//
// Failures come back as Statuses, never as exceptions or aborts: a library error is
// kInternal with the library's own text, file:line and our reason; bad arguments that the
// implementation itself detects are kInvalidArgument.
//
// Thread safety: one thread per communicator; calls must not overlap.
class Communicator {
 public:
  virtual ~Communicator() = default;

  // This process's rank in the group, in [0, size()).
  virtual int rank() const = 0;
  // The number of ranks in the group, at least 1.
  virtual int size() const = 0;

  // Replaces every element of `data` with its sum over all ranks. Every rank passes a buffer of
  // the same length. Buffers of any length are accepted (they are sent in chunks where the
  // library counts in int). Summation order is the library's, so results may differ from a
  // sequential sum in the last bits for non-integral values.
  [[nodiscard]] virtual absl::Status AllReduceSum(std::span<float> data) = 0;
  [[nodiscard]] virtual absl::Status AllReduceSum(std::span<double> data) = 0;

  // Copies rank `root`'s `data` into `data` on every other rank. Every rank passes a buffer of the
  // same length and the same `root`, which must be in [0, size()).
  [[nodiscard]] virtual absl::Status Broadcast(std::span<std::byte> data, int root) = 0;

  // Returns once every rank has entered Barrier().
  [[nodiscard]] virtual absl::Status Barrier() = 0;

  // Where the buffers given to the collectives live: host memory (Local, MPI) or the memory of
  // the communicator's CUDA device (NCCL). Callers with data elsewhere stage it through a copy.
  enum class Memory { kHost, kCuda };
  virtual Memory memory() const { return Memory::kHost; }

  // A CUDA stream (a cudaStream_t) as an opaque pointer, so that this header needs no CUDA; null
  // is CUDA's legacy default stream. Communicators over host memory ignore it.
  using Stream = void*;

  // One collective in flight, from StartAllReduceSum. See Note [Collectives in flight].
  class Pending {
   public:
    virtual ~Pending() = default;
    // Completes the collective. Host memory: blocks until the buffer holds the sums. CUDA memory:
    // makes `stream` wait for the collective on the GPU and returns at once (the host does not
    // wait); work queued on `stream` afterwards sees the sums. Called once; the collective's
    // error, if any, is returned here. A Pending destroyed unfinished waits on the host.
    [[nodiscard]] virtual absl::Status Finish(Stream stream) = 0;
  };

  // Note [Collectives in flight]
  // StartAllReduceSum begins the same sum as AllReduceSum and returns before it is done, so that
  // the caller can go on computing (the gradient buckets of a backward pass) while it runs. Until
  // Finish() the buffer must be neither read, written nor freed. The ordering rule holds for
  // starts: every rank starts the same collectives in the same order. Over CUDA memory the
  // collective is queued on the communicator's own stream behind the work already queued on
  // `stream` (the stream that produced the data), with no host synchronization; over host memory
  // it is a non-blocking MPI all-reduce, which MPI advances inside later MPI calls and Finish.
  // The default implementation (LocalCommunicator) runs the blocking call and returns it done.
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<Pending>> StartAllReduceSum(
      std::span<float> data, Stream stream);
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<Pending>> StartAllReduceSum(
      std::span<double> data, Stream stream);

  // Broadcast ordered on `stream` (CUDA memory: queued behind the work on `stream`, and work
  // queued on `stream` afterwards sees the data; the host does not wait). Host memory: Broadcast.
  [[nodiscard]] virtual absl::Status BroadcastOnStream(std::span<std::byte> data, int root,
                                                       Stream stream);
};

// StartAllReduceSum followed at once by Finish: a sum ordered on `stream` (CUDA memory) or a
// blocking one (host memory). Errors as AllReduceSum.
template <typename T>
[[nodiscard]] absl::Status AllReduceSumOnStream(Communicator& group, std::span<T> data,
                                                Communicator::Stream stream) {
  absl::StatusOr<std::unique_ptr<Communicator::Pending>> pending =
      group.StartAllReduceSum(data, stream);
  if (!pending.ok()) return pending.status();
  return (*pending)->Finish(stream);
}

// Every rank's `mine` (the same length on every rank), rank r's at [r * mine.size(), (r + 1) *
// mine.size()) of the result, on every rank: size() broadcasts. `group` must use host memory.
// A collective.
[[nodiscard]] absl::StatusOr<std::vector<std::byte>> AllGatherBytes(
    Communicator& group, std::span<const std::byte> mine);

// Turns each rank's own outcome into one decision of the whole group (the ordering rule above):
// every rank passes its `local` status; if every rank's is OK, every rank gets OK; otherwise
// every rank gets the status of the lowest failing rank, with its code and its message prefixed
// "rank k: ", marked so that IsAgreed() tells it apart. In a group of one, `local` comes back as
// it is (nothing to agree on; IsAgreed is false). A
// collective (one all-reduce of size() numbers, and two broadcasts when some rank failed): every
// rank must call it at the same point. `group` must use host memory (kInvalidArgument otherwise).
// If the collectives themselves fail, their error is returned, not marked agreed.
[[nodiscard]] absl::Status AgreeOnStatus(Communicator& group, const absl::Status& local);

// True for an error that AgreeOnStatus returned: every rank of the group holds the same one, so
// the ranks can stop together without aborting the job.
bool IsAgreed(const absl::Status& status);

// The group of one: for single-process runs and tests. All-reduce leaves the data as it is,
// Broadcast from root 0 does nothing and any other root is kInvalidArgument, Barrier returns at
// once.
class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  [[nodiscard]] absl::Status AllReduceSum(std::span<float> data) override;
  [[nodiscard]] absl::Status AllReduceSum(std::span<double> data) override;
  [[nodiscard]] absl::Status Broadcast(std::span<std::byte> data, int root) override;
  [[nodiscard]] absl::Status Barrier() override;
};

// Owns MPI's lifetime in the process: Start() calls MPI_Init_thread asking for
// MPI_THREAD_SERIALIZED (one thread at a time calls MPI; Note [MPI threads] in
// mpi_communicator.cc), the destructor calls MPI_Finalize.
// Create it once, in main, and destroy every communicator made from it first.
// Move-less and copy-less: exactly one owner.
class MpiSession {
 public:
  // Initializes MPI with `argc`/`argv` from main (MPI may remove its own arguments).
  // Errors: kFailedPrecondition if MPI was already initialized or finalized in this process,
  // kInternal if MPI_Init_thread fails or MPI cannot provide MPI_THREAD_SERIALIZED.
  // Without mpirun, OpenMPI starts a one-rank "singleton" job.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<MpiSession>> Start(int* argc, char*** argv);

  // Tells whether this process was started by an MPI launcher (mpirun/mpiexec or srun), judged
  // from the environment it sets: OMPI_COMM_WORLD_SIZE (Open MPI), PMI_SIZE (MPICH, Slurm's
  // PMI-1/2) or PMIX_RANK (PMIx). Needs no MPI call, so it may be asked before Start(), e.g. to
  // choose between LocalCommunicator and MPI.
  static bool InMpiJob();

  // Ends every process of the job at once (MPI_Abort on MPI_COMM_WORLD) with `exit_code`: the way
  // out when this rank must stop but the others may be waiting in a collective it will never join
  // (an error that AgreeOnStatus did not spread). Does not return.
  [[noreturn]] void Abort(int exit_code) const;

  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  ~MpiSession() noexcept;

 private:
  MpiSession() = default;
};

// Returns a communicator over all processes of the MPI job (a duplicate of MPI_COMM_WORLD, so its
// traffic never mixes with other users of MPI), with MPI_ERRORS_RETURN set so that MPI errors come
// back as Statuses instead of aborting the job. The communicator must be destroyed before
// `session`. Errors: kInternal with MPI's text if the duplicate cannot be made.
[[nodiscard]] absl::StatusOr<std::unique_ptr<Communicator>> CreateMpiCommunicator(
    const MpiSession& session);

// Returns a communicator over NCCL for the ranks of `bootstrap`, which is used once, here, to
// share NCCL's unique id from rank 0 (a collective: every rank of `bootstrap` must call this).
// The process uses CUDA device `device`. The spans given to its collectives hold device pointers
// on that device; they are never dereferenced on the host. Each call returns after the collective
// has finished on the GPU. An NCCL or CUDA error is kInternal with the library's text; the
// communicator is then aborted (ncclCommAbort) when destroyed rather than left to hang.
// Errors: kUnimplemented ("built without NCCL") when istar was built without NCCL.
[[nodiscard]] absl::StatusOr<std::unique_ptr<Communicator>> CreateNcclCommunicator(
    Communicator& bootstrap, int device);

}  // namespace istar::comm

#endif  // ISTAR_COMM_COMMUNICATOR_H_

// Compiled instead of mpi_communicator.cc when istar is configured with ISTAR_WITH_MPI=OFF (the
// GPU build of deploy/gpu/, whose machine has no MPI): one process, LocalCommunicator, and NCCL
// bootstrapped through it. See comm/CMakeLists.txt.
#include <cstdlib>

#include "comm/communicator.h"

namespace istar::comm {

absl::StatusOr<std::unique_ptr<MpiSession>> MpiSession::Start(int*, char***) {
  return absl::UnimplementedError(
      "built without MPI (ISTAR_WITH_MPI=OFF): run one process, or rebuild with MPI to run a "
      "worker group under mpirun");
}

void MpiSession::Abort(int exit_code) const { std::_Exit(exit_code); }

MpiSession::~MpiSession() noexcept = default;

absl::StatusOr<std::unique_ptr<Communicator>> CreateMpiCommunicator(const MpiSession&) {
  return absl::UnimplementedError("built without MPI (ISTAR_WITH_MPI=OFF)");
}

}  // namespace istar::comm

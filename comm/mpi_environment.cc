// MpiSession::InMpiJob: read from the environment, so that it is the same with or without MPI
// compiled in (a build without MPI must still refuse to run as one of mpirun's R copies).
#include <cstdlib>

#include "comm/communicator.h"

namespace istar::comm {

bool MpiSession::InMpiJob() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMI_SIZE") != nullptr ||
         std::getenv("PMIX_RANK") != nullptr;
}

}  // namespace istar::comm

// main() for the MPI test binaries: starts MPI, makes one communicator, runs the tests, then
// tears down in the order MpiSession requires (communicator first).
#include "tests/testing/mpi_test_main.h"

#include <cstdio>
#include <memory>

#include "gtest/gtest.h"

namespace istar::testing {
namespace {
comm::Communicator* g_group = nullptr;
const comm::MpiSession* g_session = nullptr;
}  // namespace

comm::Communicator& TestGroup() { return *g_group; }

const comm::MpiSession& TestSession() { return *g_session; }

}  // namespace istar::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  auto session = istar::comm::MpiSession::Start(&argc, &argv);
  if (!session.ok()) {
    std::fprintf(stderr, "cannot start MPI: %s\n", session.status().ToString().c_str());
    return 1;
  }
  auto group = istar::comm::CreateMpiCommunicator(**session);
  if (!group.ok()) {
    std::fprintf(stderr, "cannot create the MPI communicator: %s\n",
                 group.status().ToString().c_str());
    return 1;
  }
  istar::testing::g_group = group->get();
  istar::testing::g_session = session->get();
  const int result = RUN_ALL_TESTS();
  istar::testing::g_group = nullptr;
  istar::testing::g_session = nullptr;
  group->reset();
  session->reset();
  return result;
}

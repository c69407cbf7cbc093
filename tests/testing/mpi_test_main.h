// The main() of the MPI test binaries (istar_mpi_test in cmake/IstarHelpers.cmake): ctest runs
// each under `mpiexec -n 2`, and every rank runs every test in the same order, since the tests
// issue collectives. Run without mpirun, a binary is a one-rank job; tests that need two ranks
// then skip, saying so.
#ifndef ISTAR_TESTS_TESTING_MPI_TEST_MAIN_H_
#define ISTAR_TESTS_TESTING_MPI_TEST_MAIN_H_

#include "comm/communicator.h"

namespace istar::testing {

// The communicator over every rank of the test job, alive while the tests run.
comm::Communicator& TestGroup();

// The job's MPI session, for tests that make communicators of their own (destroyed before the
// tests end).
const comm::MpiSession& TestSession();

// The message of GTEST_SKIP for tests that need more ranks than the job has.
inline constexpr char kNeedsTwoRanks[] = "needs two ranks: run under mpirun -np 2 (ctest does)";

}  // namespace istar::testing

#endif  // ISTAR_TESTS_TESTING_MPI_TEST_MAIN_H_

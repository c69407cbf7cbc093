// istar_comm_mpi_test: the MPI communicator across real processes. ctest runs it under
// `mpirun -np 2` (tests/comm/CMakeLists.txt); every rank runs every test, in the same order, since
// each test issues collectives. Run directly, without mpirun, it is a one-rank job and the tests
// that need two ranks skip, saying so.
#include <mpi.h>

#include <cstddef>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "comm/communicator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace istar::comm {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Set by main() before the tests run. InMpiJob() is read before MPI starts: Open MPI's singleton
// init sets OMPI_COMM_WORLD_SIZE in the process itself.
MpiSession* g_session = nullptr;
bool g_launched_by_mpirun = false;

class MpiCommunicatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(g_session, nullptr);
    auto comm = CreateMpiCommunicator(*g_session);
    ASSERT_TRUE(comm.ok()) << comm.status();
    comm_ = *std::move(comm);
  }
  std::unique_ptr<Communicator> comm_;
};

TEST_F(MpiCommunicatorTest, RankAndSizeDescribeTheJob) {
  EXPECT_GE(comm_->size(), 1);
  EXPECT_GE(comm_->rank(), 0);
  EXPECT_LT(comm_->rank(), comm_->size());
  if (g_launched_by_mpirun) {
    EXPECT_EQ(comm_->size(), 2) << "ctest starts this binary with mpirun -np 2";
  }
}

TEST_F(MpiCommunicatorTest, AllReduceSumOfFloatsAddsEveryRanksValues) {
  // Rank r contributes (r + 1) * (i + 1): exact in float for these sizes.
  const int n = comm_->size();
  std::vector<float> data(100);
  for (size_t i = 0; i < data.size(); ++i) data[i] = float((comm_->rank() + 1) * (i + 1));
  ASSERT_TRUE(comm_->AllReduceSum(std::span<float>(data)).ok());
  const float ranks = float(n * (n + 1) / 2);
  for (size_t i = 0; i < data.size(); ++i) ASSERT_EQ(data[i], ranks * float(i + 1)) << i;
}

TEST_F(MpiCommunicatorTest, AllReduceSumOfDoublesAddsEveryRanksValues) {
  const int n = comm_->size();
  std::vector<double> data = {0.5, -1.0, 1e15, 0.0};
  for (double& x : data) x *= comm_->rank() + 1;
  ASSERT_TRUE(comm_->AllReduceSum(std::span<double>(data)).ok());
  const double ranks = n * (n + 1) / 2.0;
  EXPECT_EQ(data[0], 0.5 * ranks);
  EXPECT_EQ(data[1], -1.0 * ranks);
  EXPECT_EQ(data[2], 1e15 * ranks);
  EXPECT_EQ(data[3], 0.0);
}

TEST_F(MpiCommunicatorTest, AllReduceSumOfLargeBuffer) {
  const int n = comm_->size();
  std::vector<double> data(3'000'000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = double(i % 1000) + comm_->rank();
  ASSERT_TRUE(comm_->AllReduceSum(std::span<double>(data)).ok());
  const double rank_sum = n * (n - 1) / 2.0;
  for (size_t i = 0; i < data.size(); ++i) {
    ASSERT_EQ(data[i], n * double(i % 1000) + rank_sum) << i;
  }
}

// Several non-blocking sums in flight at once (the gradient buckets of a backward pass), one of
// them longer than a shared-memory message, finished in the order started.
TEST_F(MpiCommunicatorTest, StartedAllReduceSumsFinishWithTheSums) {
  const int n = comm_->size();
  std::vector<float> small(17);
  std::vector<double> large(1'000'000);
  std::vector<float> empty;
  for (size_t i = 0; i < small.size(); ++i) small[i] = float((comm_->rank() + 1) * (i + 1));
  for (size_t i = 0; i < large.size(); ++i) large[i] = double(i % 977) * (comm_->rank() + 1);
  auto first = comm_->StartAllReduceSum(std::span<float>(small), nullptr);
  auto second = comm_->StartAllReduceSum(std::span<double>(large), nullptr);
  auto third = comm_->StartAllReduceSum(std::span<float>(empty), nullptr);
  ASSERT_TRUE(first.ok() && second.ok() && third.ok());
  ASSERT_TRUE((*first)->Finish(nullptr).ok());
  ASSERT_TRUE((*second)->Finish(nullptr).ok());
  ASSERT_TRUE((*third)->Finish(nullptr).ok());
  const double ranks = n * (n + 1) / 2.0;
  for (size_t i = 0; i < small.size(); ++i) ASSERT_EQ(small[i], float(ranks * (i + 1))) << i;
  for (size_t i = 0; i < large.size(); ++i) ASSERT_EQ(large[i], double(i % 977) * ranks) << i;
  // A pending sum dropped unfinished is waited for, not left to corrupt a later call.
  std::vector<double> dropped(1000, 1.0);
  { ASSERT_TRUE(comm_->StartAllReduceSum(std::span<double>(dropped), nullptr).ok()); }
  EXPECT_EQ(dropped[999], double(n));
  EXPECT_TRUE(AllReduceSumOnStream(*comm_, std::span<double>(dropped), nullptr).ok());
  EXPECT_EQ(dropped[0], double(n * n));
}

TEST_F(MpiCommunicatorTest, AllGatherBytesGivesEveryRankEveryRanksBytes) {
  const int n = comm_->size();
  const std::vector<std::byte> mine = {std::byte(comm_->rank()), std::byte(10 + comm_->rank()),
                                       std::byte(0xff)};
  absl::StatusOr<std::vector<std::byte>> all = AllGatherBytes(*comm_, mine);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 3u * n);
  for (int r = 0; r < n; ++r) {
    EXPECT_EQ((*all)[3 * r], std::byte(r));
    EXPECT_EQ((*all)[3 * r + 1], std::byte(10 + r));
    EXPECT_EQ((*all)[3 * r + 2], std::byte(0xff));
  }
}

TEST_F(MpiCommunicatorTest, AllReduceSumOfEmptyBufferSucceeds) {
  EXPECT_TRUE(comm_->AllReduceSum(std::span<float>()).ok());
}

// Every rank fills its buffer with its own rank; after the broadcast all hold root's bytes.
void ExpectBroadcastFrom(Communicator& comm, int root) {
  std::vector<std::byte> bytes(1000, std::byte(comm.rank()));
  if (comm.rank() == root) {
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = std::byte(i * 7 + 3);
  }
  ASSERT_TRUE(comm.Broadcast(bytes, root).ok());
  for (size_t i = 0; i < bytes.size(); ++i) ASSERT_EQ(bytes[i], std::byte(i * 7 + 3)) << i;
}

TEST_F(MpiCommunicatorTest, BroadcastFromRootZero) { ExpectBroadcastFrom(*comm_, 0); }

TEST_F(MpiCommunicatorTest, BroadcastFromRootOne) {
  if (comm_->size() < 2) GTEST_SKIP() << "needs 2 ranks; run under mpirun -np 2 (ctest does)";
  ExpectBroadcastFrom(*comm_, 1);
}

TEST_F(MpiCommunicatorTest, BarrierSucceeds) { EXPECT_TRUE(comm_->Barrier().ok()); }

TEST_F(MpiCommunicatorTest, BroadcastWithInvalidRootReturnsMpiError) {
  // Every rank passes the same bad root, so none waits for the others (MPI_ERRORS_RETURN).
  std::vector<std::byte> bytes(8);
  const absl::Status status = comm_->Broadcast(bytes, comm_->size());
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  ASSERT_EQ(MPI_Error_string(MPI_ERR_ROOT, text, &length), MPI_SUCCESS);
  const std::string message(status.message());
  EXPECT_THAT(message, StartsWith("comm/mpi_communicator.cc:"));
  EXPECT_THAT(message, HasSubstr(std::string("MPI '") + std::string(text, length) + "'"));
  EXPECT_THAT(message, HasSubstr("broadcast of 8 bytes from root"));
  // The communicator is still usable afterwards.
  EXPECT_TRUE(comm_->Barrier().ok());
}

TEST_F(MpiCommunicatorTest, AgreeOnStatusIsOkWhenEveryRankIsOk) {
  const absl::Status agreed = AgreeOnStatus(*comm_, absl::OkStatus());
  EXPECT_TRUE(agreed.ok()) << agreed;
}

TEST_F(MpiCommunicatorTest, AgreeOnStatusSpreadsOneRanksErrorToEveryRank) {
  if (comm_->size() < 2) GTEST_SKIP() << "needs two ranks: run under mpirun -np 2 (ctest does)";
  // Only the last rank fails; every rank must come back with its code and message.
  const int last = comm_->size() - 1;
  const absl::Status local = comm_->rank() == last
                                 ? absl::DataLossError(absl::StrCat("checkpoint of rank ", last))
                                 : absl::OkStatus();
  const absl::Status agreed = AgreeOnStatus(*comm_, local);
  EXPECT_EQ(agreed.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(agreed.message(), absl::StrCat("rank ", last, ": checkpoint of rank ", last));
  EXPECT_TRUE(IsAgreed(agreed));
}

TEST_F(MpiCommunicatorTest, AgreeOnStatusTakesTheLowestFailingRank) {
  if (comm_->size() < 2) GTEST_SKIP() << "needs two ranks: run under mpirun -np 2 (ctest does)";
  // Every rank fails with a message of a different length; rank 0's wins.
  const absl::Status local = comm_->rank() == 0 ? absl::NotFoundError("short")
                                                : absl::InternalError("a much longer message");
  const absl::Status agreed = AgreeOnStatus(*comm_, local);
  EXPECT_EQ(agreed.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(agreed.message(), "rank 0: short");
}

TEST(MpiSession, SecondStartIsFailedPrecondition) {
  int argc = 0;
  char** argv = nullptr;
  const auto second = MpiSession::Start(&argc, &argv);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace istar::comm

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  istar::comm::g_launched_by_mpirun = istar::comm::MpiSession::InMpiJob();
  auto session = istar::comm::MpiSession::Start(&argc, &argv);
  if (!session.ok()) {
    std::fprintf(stderr, "cannot start MPI: %s\n", session.status().ToString().c_str());
    return 1;
  }
  istar::comm::g_session = session->get();
  const int result = RUN_ALL_TESTS();
  istar::comm::g_session = nullptr;
  session->reset();  // MPI_Finalize, after every communicator is gone.
  return result;
}

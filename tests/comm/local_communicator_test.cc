#include <cstddef>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace istar::comm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(LocalCommunicator, IsRankZeroOfOne) {
  LocalCommunicator comm;
  EXPECT_EQ(comm.rank(), 0);
  EXPECT_EQ(comm.size(), 1);
}

TEST(LocalCommunicator, AllReduceSumLeavesDataUnchanged) {
  LocalCommunicator comm;
  std::vector<float> floats = {1.5f, -2.0f, 3.25f};
  std::vector<double> doubles = {0.1, 1e300};
  ASSERT_TRUE(comm.AllReduceSum(std::span<float>(floats)).ok());
  ASSERT_TRUE(comm.AllReduceSum(std::span<double>(doubles)).ok());
  EXPECT_THAT(floats, ElementsAre(1.5f, -2.0f, 3.25f));
  EXPECT_THAT(doubles, ElementsAre(0.1, 1e300));
}

TEST(LocalCommunicator, AllReduceSumAcceptsEmptyBuffer) {
  LocalCommunicator comm;
  EXPECT_TRUE(comm.AllReduceSum(std::span<double>()).ok());
}

TEST(LocalCommunicator, BroadcastFromRootZeroKeepsBytes) {
  LocalCommunicator comm;
  std::vector<std::byte> bytes = {std::byte{7}, std::byte{42}};
  ASSERT_TRUE(comm.Broadcast(bytes, 0).ok());
  EXPECT_THAT(bytes, ElementsAre(std::byte{7}, std::byte{42}));
}

TEST(LocalCommunicator, BroadcastFromOtherRootIsInvalidArgument) {
  LocalCommunicator comm;
  std::vector<std::byte> bytes(4);
  const absl::Status status = comm.Broadcast(bytes, 1);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("root 1"));
}

TEST(LocalCommunicator, StartedCollectivesAreDoneAtOnce) {
  LocalCommunicator local;
  std::vector<double> data = {1.0, 2.0};
  absl::StatusOr<std::unique_ptr<Communicator::Pending>> pending =
      local.StartAllReduceSum(std::span<double>(data), nullptr);
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE((*pending)->Finish(nullptr).ok());
  EXPECT_EQ(data, (std::vector<double>{1.0, 2.0}));
  std::vector<std::byte> bytes(3, std::byte{7});
  EXPECT_TRUE(local.BroadcastOnStream(bytes, 0, nullptr).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(local.BroadcastOnStream(bytes, 1, nullptr)));
  absl::StatusOr<std::vector<std::byte>> all = AllGatherBytes(local, bytes);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, bytes);
}

TEST(LocalCommunicator, BarrierReturnsAtOnce) {
  LocalCommunicator comm;
  EXPECT_TRUE(comm.Barrier().ok());
}

TEST(AgreeOnStatus, OkStaysOkInAGroupOfOne) {
  LocalCommunicator comm;
  const absl::Status agreed = AgreeOnStatus(comm, absl::OkStatus());
  EXPECT_TRUE(agreed.ok()) << agreed;
  EXPECT_FALSE(IsAgreed(agreed));
}

TEST(AgreeOnStatus, ErrorComesBackUnchangedInAGroupOfOne) {
  LocalCommunicator comm;
  const absl::Status local = absl::NotFoundError("data/train.tsv: no file");
  const absl::Status agreed = AgreeOnStatus(comm, local);
  EXPECT_EQ(agreed, local);
  EXPECT_FALSE(IsAgreed(agreed));
}

TEST(MpiSession, InMpiJobReadsTheLaunchersEnvironment) {
  // Saves and restores the variables, so that the test means the same under mpirun.
  const std::vector<std::string> names = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"};
  std::vector<std::optional<std::string>> saved;
  for (const std::string& name : names) {
    const char* value = std::getenv(name.c_str());
    saved.push_back(value == nullptr ? std::nullopt : std::optional<std::string>(value));
  }
  for (const std::string& name : names) unsetenv(name.c_str());
  EXPECT_FALSE(MpiSession::InMpiJob());
  for (const std::string& name : names) {
    setenv(name.c_str(), "2", /*overwrite=*/1);
    EXPECT_TRUE(MpiSession::InMpiJob()) << name;
    unsetenv(name.c_str());
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (saved[i]) setenv(names[i].c_str(), saved[i]->c_str(), /*overwrite=*/1);
  }
}

TEST(CreateNcclCommunicator, IsUnimplementedWithoutNccl) {
#ifdef ISTAR_HAVE_NCCL
  GTEST_SKIP() << "istar was built with NCCL; this test covers the build without it (running NCCL "
                  "needs a GPU)";
#else
  LocalCommunicator bootstrap;
  const auto comm = CreateNcclCommunicator(bootstrap, 0);
  EXPECT_EQ(comm.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(comm.status().message()), HasSubstr("built without NCCL"));
#endif
}

}  // namespace
}  // namespace istar::comm

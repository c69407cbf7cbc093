// The device plan of a worker group (trainer/device.h): the local rank -> GPU choice and its
// refusals, decided from launch facts written out by hand (no GPU needed).
#include "trainer/device.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "comm/communicator.h"

namespace istar::trainer {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A rank on `host` that sees `gpus` GPUs, with mpirun's local rank `local` (-1: no launcher
// variable) and CUDA_VISIBLE_DEVICES `visible` when given.
RankLaunch Rank(std::string host, int gpus, int local = -1,
                std::optional<std::string> visible = std::nullopt) {
  RankLaunch launch{
      .host = std::move(host), .visible_gpus = gpus, .cuda_visible_devices = std::move(visible)};
  if (local >= 0) {
    launch.local_rank = local;
    launch.local_rank_source = "OMPI_COMM_WORLD_LOCAL_RANK";
  }
  return launch;
}

std::vector<std::string> Plan(std::string_view flag, const std::vector<RankLaunch>& ranks) {
  absl::StatusOr<std::vector<std::string>> plan = PlanDevices(flag, ranks);
  EXPECT_TRUE(plan.ok()) << plan.status();
  return plan.ok() ? *plan : std::vector<std::string>{};
}

absl::Status PlanError(std::string_view flag, const std::vector<RankLaunch>& ranks) {
  return PlanDevices(flag, ranks).status();
}

TEST(PlanDevices, EachRankTakesItsLocalRanksGpu) {
  // Two nodes of two GPUs, two ranks each.
  EXPECT_THAT(Plan("cuda", {Rank("a", 2, 0), Rank("a", 2, 1), Rank("b", 2, 0), Rank("b", 2, 1)}),
              ElementsAre("cuda:0", "cuda:1", "cuda:0", "cuda:1"));
}

TEST(PlanDevices, AutoIsCudaWhereGpusAreVisibleAndCpuWhereNone) {
  EXPECT_THAT(Plan("auto", {Rank("a", 4, 0), Rank("a", 4, 1)}), ElementsAre("cuda:0", "cuda:1"));
  EXPECT_THAT(Plan("auto", {Rank("a", 0, 0), Rank("a", 0, 1)}), ElementsAre("cpu", "cpu"));
  EXPECT_THAT(Plan("cpu", {Rank("a", 4, 0), Rank("a", 4, 1)}), ElementsAre("cpu", "cpu"));
  EXPECT_THAT(Plan("auto", {Rank("a", 1)}), ElementsAre("cuda:0"));
}

TEST(PlanDevices, WithoutALauncherVariableTheLocalRankIsThePlaceOnTheHost) {
  EXPECT_THAT(Plan("cuda", {Rank("a", 2), Rank("b", 2), Rank("a", 2), Rank("b", 2)}),
              ElementsAre("cuda:0", "cuda:0", "cuda:1", "cuda:1"));
}

TEST(PlanDevices, AnExplicitIndexIsTakenAsGiven) {
  EXPECT_THAT(Plan("cuda:3", {Rank("a", 4, 0)}), ElementsAre("cuda:3"));
  // One rank per node: the same index on every node is one GPU each.
  EXPECT_THAT(Plan("cuda:1", {Rank("a", 2, 0), Rank("b", 2, 0)}), ElementsAre("cuda:1", "cuda:1"));
}

TEST(PlanDevices, ARankBoundToOneGpuTakesItWhateverItsLocalRank) {
  // Slurm's --gpus-per-task=1: each task sees only its own GPU, as device 0.
  EXPECT_THAT(Plan("cuda", {Rank("a", 1, 0, "2"), Rank("a", 1, 1, "5")}),
              ElementsAre("cuda:0", "cuda:0"));
}

TEST(PlanDevices, RefusesTwoRanksOnOneGpu) {
  const absl::Status explicit_index =
      PlanError("cuda:0", {Rank("node7", 2, 0), Rank("node7", 2, 1)});
  EXPECT_TRUE(absl::IsFailedPrecondition(explicit_index)) << explicit_index;
  EXPECT_THAT(explicit_index.message(),
              AllOf(HasSubstr("ranks 0 and 1 on host node7"), HasSubstr("GPU cuda:0")));
  // The launcher bound one GPU to each task, but the same one.
  const absl::Status bound = PlanError("cuda", {Rank("a", 1, 0, "3"), Rank("a", 1, 1, "3")});
  EXPECT_TRUE(absl::IsFailedPrecondition(bound)) << bound;
  EXPECT_THAT(bound.message(), HasSubstr("CUDA_VISIBLE_DEVICES entry \"3\""));
}

TEST(PlanDevices, RefusesALocalRankBeyondTheVisibleGpus) {
  const absl::Status status =
      PlanError("cuda", {Rank("a", 2, 0), Rank("a", 2, 1), Rank("a", 2, 2)});
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("rank 2 on host a has local rank 2"),
                    HasSubstr("OMPI_COMM_WORLD_LOCAL_RANK"), HasSubstr("2 GPU(s)")));
  const absl::Status index = PlanError("cuda:2", {Rank("a", 2, 0)});
  EXPECT_THAT(index.message(), AllOf(HasSubstr("rank 0 on host a"), HasSubstr("cuda:2")));
}

TEST(PlanDevices, RefusesCudaWithoutAVisibleGpu) {
  const absl::Status status = PlanError("cuda", {Rank("login1", 0, 0), Rank("login1", 0, 1)});
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("rank 0 on host login1"), HasSubstr("sees no GPU")));
}

TEST(PlanDevices, RefusesRanksThatDisagreeOnTheKindOfDevice) {
  // auto on a GPU node and a CPU node.
  const absl::Status status = PlanError("auto", {Rank("cpu1", 0, 0), Rank("gpu1", 2, 0)});
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_THAT(status.message(), AllOf(HasSubstr("rank 1 on host gpu1 would train on cuda"),
                                      HasSubstr("rank 0 on host cpu1 on cpu")));
}

TEST(PlanDevices, RefusesAMalformedFlag) {
  for (const char* flag : {"gpu", "cuda:", "cuda:-1", "cuda:x", "CUDA", ""}) {
    const absl::Status status = PlanError(flag, {Rank("a", 1, 0)});
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << flag << ": " << status;
  }
}

TEST(ParseRankLaunch, TakesTheFirstLauncherVariableInOrder) {
  std::map<std::string, std::string> env = {
      {"SLURM_LOCALID", "3"}, {"LOCAL_RANK", "5"}, {"CUDA_VISIBLE_DEVICES", "0,1"}};
  auto getenv = [&](const char* name) -> const char* {
    const auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  absl::StatusOr<RankLaunch> launch = ParseRankLaunch(getenv, "h", 2);
  ASSERT_TRUE(launch.ok()) << launch.status();
  EXPECT_EQ(launch->local_rank, 3);
  EXPECT_EQ(launch->local_rank_source, "SLURM_LOCALID");
  EXPECT_EQ(launch->cuda_visible_devices, "0,1");
  env["OMPI_COMM_WORLD_LOCAL_RANK"] = "1";
  launch = ParseRankLaunch(getenv, "h", 2);
  ASSERT_TRUE(launch.ok());
  EXPECT_EQ(launch->local_rank, 1);
  EXPECT_EQ(launch->local_rank_source, "OMPI_COMM_WORLD_LOCAL_RANK");
  env.clear();
  launch = ParseRankLaunch(getenv, "h", 0);
  ASSERT_TRUE(launch.ok());
  EXPECT_FALSE(launch->local_rank.has_value());
  EXPECT_FALSE(launch->cuda_visible_devices.has_value());
}

TEST(ParseRankLaunch, RefusesALocalRankThatIsNotANumber) {
  auto getenv = [](const char* name) -> const char* {
    return std::string(name) == "LOCAL_RANK" ? "two" : nullptr;
  };
  const absl::Status status = ParseRankLaunch(getenv, "h", 1).status();
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("LOCAL_RANK=\"two\""));
}

TEST(ShareGpusAmongGroups, GivesEachGroupABlockOfItsOwn) {
  // Two groups of two ranks on a machine with four GPUs.
  absl::StatusOr<std::vector<std::string>> shares =
      ShareGpusAmongGroups("auto", Rank("node", 4), 2, 2);
  ASSERT_TRUE(shares.ok()) << shares.status();
  EXPECT_THAT(*shares, ElementsAre("0,1", "2,3"));
  // Within what the machine was given.
  shares = ShareGpusAmongGroups("cuda", Rank("node", 3, -1, "7,5,GPU-ab"), 3, 1);
  ASSERT_TRUE(shares.ok()) << shares.status();
  EXPECT_THAT(*shares, ElementsAre("7", "5", "GPU-ab"));
}

TEST(ShareGpusAmongGroups, SharesNothingOnCpusOrForOneNamedGpu) {
  for (const auto& [flag, gpus] :
       std::vector<std::pair<std::string, int>>{{"cpu", 8}, {"auto", 0}, {"cuda:1", 8}}) {
    absl::StatusOr<std::vector<std::string>> shares =
        ShareGpusAmongGroups(flag, Rank("node", gpus), 2, 2);
    ASSERT_TRUE(shares.ok()) << flag << ": " << shares.status();
    EXPECT_TRUE(shares->empty()) << flag;
  }
}

TEST(ShareGpusAmongGroups, RefusesMoreRanksThanGpus) {
  const absl::Status status = ShareGpusAmongGroups("auto", Rank("node", 4), 3, 2).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_THAT(status.message(), AllOf(HasSubstr("need 6 GPUs"), HasSubstr("4 GPU(s)"),
                                      HasSubstr("at most 2 group(s)")));
  // cuda on a machine without GPUs: the same refusal, before anything starts.
  EXPECT_TRUE(
      absl::IsFailedPrecondition(ShareGpusAmongGroups("cuda", Rank("node", 0), 1, 1).status()));
}

TEST(SetUpGroupDevice, OneProcessOnThisMachine) {
  comm::LocalCommunicator alone;
  absl::StatusOr<GroupDevice> cpu = SetUpGroupDevice(alone, "cpu");
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  EXPECT_EQ(cpu->device, "cpu");
  EXPECT_EQ(cpu->tensors, nullptr);
  absl::StatusOr<RankLaunch> here = ReadRankLaunch();
  ASSERT_TRUE(here.ok());
  absl::StatusOr<GroupDevice> cuda = SetUpGroupDevice(alone, "cuda");
  if (here->visible_gpus == 0) {
    EXPECT_TRUE(absl::IsFailedPrecondition(cuda.status())) << cuda.status();
    EXPECT_THAT(cuda.status().message(), HasSubstr("sees no GPU"));
  } else {
    ASSERT_TRUE(cuda.ok()) << cuda.status();
    EXPECT_EQ(cuda->device.substr(0, 5), "cuda:");
  }
}

}  // namespace
}  // namespace istar::trainer

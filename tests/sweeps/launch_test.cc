// The `launch: slurm:` section: every value is checked before anything is submitted, and the
// message names the field (docs/sweep-format.md, "launch").
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sweeps/sweep.h"
#include "tests/sweeps/test_util.h"

namespace istar::sweeps {
namespace {

using ::istar::sweeps::testing::ErrorOf;
using ::istar::sweeps::testing::Parse;

// Lines 1-5; the launch section starts at line 6, its first setting on line 7.
constexpr char kHead[] =
    "name: t\n"
    "models: {bert: /ckpt/bert}\n"
    "tasks: {sst2: /data/sst2}\n"
    "training: {ranks_per_trial: 4}\n"
    "grid: {regularizers: [baseline]}\n"
    "launch:\n"
    "  slurm:\n";

TEST(SlurmSettings, AreReadWithTheirDefaultsForWhatIsLeftOut) {
  const SweepSpec sweep = Parse(std::string(kHead) +
                                "    partition: gpu,gpu-long\n"
                                "    account: proj_42\n"
                                "    time: 2-12:30:00\n"
                                "    nodes_per_group: 2\n"
                                "    gpus_per_rank: 1\n"
                                "    mem: 64G\n"
                                "    extra_args: [--qos=high, --exclusive]\n"
                                "    setup: ['module load cuda/12.1', 'source ~/env.sh']\n");
  ASSERT_TRUE(sweep.launch.slurm.has_value());
  const SlurmSettings& slurm = *sweep.launch.slurm;
  EXPECT_EQ(slurm.partition, "gpu,gpu-long");
  EXPECT_EQ(slurm.account, "proj_42");
  EXPECT_EQ(slurm.time, "2-12:30:00");
  EXPECT_EQ(slurm.nodes_per_group, 2);
  EXPECT_EQ(slurm.gpus_per_rank, 1);
  EXPECT_EQ(slurm.cpus_per_rank, 1);     // default
  EXPECT_EQ(slurm.signal_seconds, 120);  // default
  EXPECT_EQ(slurm.mem, "64G");
  EXPECT_EQ(slurm.extra_args, (std::vector<std::string>{"--qos=high", "--exclusive"}));
  EXPECT_EQ(slurm.setup, (std::vector<std::string>{"module load cuda/12.1", "source ~/env.sh"}));

  EXPECT_FALSE(Parse(std::string(kHead, sizeof(kHead) - 1 - 17)).launch.slurm.has_value());
  EXPECT_TRUE(Parse(std::string(kHead)).launch.slurm.has_value());  // `slurm:` alone: defaults
}

TEST(SlurmSettings, EveryTimeLimitFormatOfSlurmIsAccepted) {
  for (const char* time : {"30", "30:00", "4:00:00", "1-0", "1-12:00", "7-00:00:00"}) {
    SCOPED_TRACE(time);
    EXPECT_EQ(ErrorOf(std::string(kHead) + "    time: '" + time + "'\n"), "OK");
  }
}

TEST(SlurmSettings, BadValuesFailNamingTheField) {
  struct Case {
    std::string line;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"    partition: 'gpu long'",
       "sweep.yaml:8:16: launch.slurm.partition: expected a Slurm name (letters, digits, _ - . , "
       "+), got 'gpu long'"},
      {"    time: 4h",
       "sweep.yaml:8:11: launch.slurm.time: expected a Slurm time limit > 0 (minutes, M:S, "
       "H:M:S, D-H, D-H:M or D-H:M:S), got '4h'"},
      {"    time: '1:2:3:4'",
       "sweep.yaml:8:11: launch.slurm.time: expected a Slurm time limit > 0 (minutes, M:S, "
       "H:M:S, D-H, D-H:M or D-H:M:S), got '1:2:3:4'"},
      {"    time: 0",
       "sweep.yaml:8:11: launch.slurm.time: expected a Slurm time limit > 0 (minutes, M:S, "
       "H:M:S, D-H, D-H:M or D-H:M:S), got '0'"},
      {"    time: 2",  // 120 s, and the signal would come 120 s before its end
       "sweep.yaml:8:11: launch.slurm.time: the preemption signal comes 120 s before the end of "
       "a 120 s time limit: it must come after the job starts"},
      {"    mem: 64GB",
       "sweep.yaml:8:10: launch.slurm.mem: expected memory per node as a positive integer with "
       "an optional unit K, M, G or T (e.g. 64G), got '64GB'"},
      {"    mem: 0",
       "sweep.yaml:8:10: launch.slurm.mem: expected memory per node as a positive integer with "
       "an optional unit K, M, G or T (e.g. 64G), got '0'"},
      {"    nodes_per_group: 5",
       "sweep.yaml:8:22: launch.slurm.nodes_per_group: 5 nodes for a group of 4 rank(s) "
       "(training.ranks_per_trial): a node would have no rank"},
      {"    gpus_per_rank: -1",
       "sweep.yaml:8:20: launch.slurm.gpus_per_rank: expected an integer >= 0, got -1"},
      {"    cpus_per_rank: 0",
       "sweep.yaml:8:20: launch.slurm.cpus_per_rank: expected an integer >= 1, got 0"},
      {"    signal_seconds: 70000",
       "sweep.yaml:8:21: launch.slurm.signal_seconds: expected an integer in [0, 65535], got "
       "70000"},
      {"    extra_args: [-q high]",
       "sweep.yaml:8:18: launch.slurm.extra_args[0]: expected an sbatch option --name or "
       "--name=value on one line, got '-q high'"},
      {"    extra_args: [--ntasks=8]",
       "sweep.yaml:8:18: launch.slurm.extra_args[0]: --ntasks is set by istar run itself"},
      {"    extra_args: ['--qos=x', '--time=10']",
       "sweep.yaml:8:29: launch.slurm.extra_args[1]: --time is set by launch.slurm.time"},
      {"    setup: [\"module load a\\nrm -rf x\"]",
       "sweep.yaml:8:13: launch.slurm.setup[0]: expected one shell line, without a line break"},
      {"    gpus: 1",
       "sweep.yaml:8:5: launch.slurm.gpus: unknown key 'gpus'; allowed keys are partition, "
       "account, time, nodes_per_group, gpus_per_rank, cpus_per_rank, mem, signal_seconds, "
       "extra_args, setup"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    EXPECT_EQ(ErrorOf(std::string(kHead) + c.line + "\n"), c.message);
  }
  EXPECT_EQ(ErrorOf(std::string(kHead, sizeof(kHead) - 1 - 9) + "  kubernetes: {}\n"),
            "sweep.yaml:7:3: launch.kubernetes: unknown key 'kubernetes'; allowed keys are slurm");
}

}  // namespace
}  // namespace istar::sweeps

// The pieces of `istar run --launcher slurm` that need no cluster: the batch scripts (checked
// by bash itself), the restart policy (on a fake clock), and running a command with its output
// captured. The whole launcher runs against a real Slurm in slurm_run_test.sh.
#include "cli/launchers.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "cli/child_process.h"
#include "cli/slurm.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace istar::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

WorkerGroupJob ExampleJob() {
  WorkerGroupJob job;
  job.slurm.partition = "gpu";
  job.slurm.account = "proj";
  job.slurm.time = "1-00:00:00";
  job.slurm.nodes_per_group = 2;
  job.slurm.gpus_per_rank = 1;
  job.slurm.cpus_per_rank = 8;
  job.slurm.mem = "128G";
  job.slurm.signal_seconds = 300;
  job.slurm.extra_args = {"--qos=high", "--constraint=a100"};
  job.slurm.setup = {"module load cuda/12.1"};
  job.job_name = JobName("paper sweep/1", "workers");
  job.ranks = 8;
  job.istar = "/home/me/istar/bin/istar";
  job.address_file = "/shared/me/run/address";
  job.token_file = "/shared/me/run/token";
  job.checkpoint_dir = "/shared/me/ckpt";
  job.log_dir = "/shared/me/logs";
  job.device = "cuda";
  job.tls_ca = "/shared/me/ca.pem";
  job.hang_timeout_seconds = 900;
  return job;
}

// bash -n: the script parses as bash.
int BashSyntaxCheck(const std::string& script) {
  const std::string path = ::testing::TempDir() + "/script.sh";
  std::ofstream(path) << script;
  const absl::StatusOr<CommandOutput> out =
      RunCommand({"bash", "-n", path}, std::chrono::seconds(10));
  EXPECT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->err, "");
  return out.ok() ? out->exit_code : -1;
}

TEST(WorkerGroupScript, HasEveryDirectiveOfTheSettingsInOrder) {
  const std::string script = WorkerGroupScript(ExampleJob());
  EXPECT_THAT(script, HasSubstr("#SBATCH --job-name=istar-paper_sweep_1-workers\n"
                                "#SBATCH --ntasks=8\n"
                                "#SBATCH --nodes=2\n"
                                "#SBATCH --cpus-per-task=8\n"
                                "#SBATCH --gpus-per-task=1\n"
                                "#SBATCH --mem=128G\n"
                                "#SBATCH --partition=gpu\n"
                                "#SBATCH --account=proj\n"
                                "#SBATCH --time=1-00:00:00\n"
                                "#SBATCH --requeue\n"
                                "#SBATCH --signal=B:TERM@300\n"
                                "#SBATCH --output=/shared/me/logs/worker-%A_%a.log\n"
                                "#SBATCH --open-mode=append\n"
                                "#SBATCH --qos=high\n"
                                "#SBATCH --constraint=a100\n"
                                "set -u\n"
                                "module load cuda/12.1\n"));
  EXPECT_THAT(script, HasSubstr("srun --mpi=pmix --kill-on-bad-exit=1 /home/me/istar/bin/istar "
                                "worker --coordinator-file /shared/me/run/address --token-file "
                                "/shared/me/run/token --checkpoints /shared/me/ckpt --device "
                                "cuda --hang-timeout 900 --tls-ca /shared/me/ca.pem --worker-id "
                                "\"$group\" &\n"));
  EXPECT_EQ(BashSyntaxCheck(script), 0);
}

TEST(WorkerGroupScript, LeavesOutWhatTheSettingsLeaveToTheCluster) {
  WorkerGroupJob job = ExampleJob();
  job.slurm = {};  // every default: no GPUs, no partition, account, time or memory
  job.slurm.signal_seconds = 0;
  job.tls_ca.clear();
  const std::string script = WorkerGroupScript(job);
  for (const char* absent :
       {"--gpus-per-task", "--mem", "--partition", "--account", "--time", "--signal"}) {
    EXPECT_THAT(script, Not(HasSubstr(absl::StrCat("#SBATCH ", absent))));
  }
  EXPECT_THAT(script, Not(HasSubstr("--tls-ca")));
  EXPECT_THAT(script, HasSubstr("#SBATCH --nodes=1\n#SBATCH --cpus-per-task=1\n"));
  EXPECT_EQ(BashSyntaxCheck(script), 0);
}

TEST(CoordinatorScript, ExecsTheCoordinatorAndAllowsRemoteClientsOffLoopback) {
  CoordinatorJob job{.job_name = JobName("s", "coordinator"),
                     .istar = "/opt/istar",
                     .db_path = "/shared/results.db",
                     .listen = "0.0.0.0:0",
                     .token_file = "/shared/run/token",
                     .address_file = "/shared/run/address",
                     .log_dir = "/shared/logs",
                     .lease_ttl_seconds = 45,
                     .tls_cert = "/shared/cert.pem",
                     .tls_key = "/shared/key.pem"};
  job.slurm.time = "7-0";
  const std::string script = CoordinatorScript(job);
  EXPECT_THAT(script, HasSubstr("#SBATCH --job-name=istar-s-coordinator\n#SBATCH --ntasks=1\n"));
  EXPECT_THAT(script, HasSubstr("#SBATCH --time=7-0\n"));
  EXPECT_THAT(
      script,
      HasSubstr("exec /opt/istar coordinator --db /shared/results.db --listen "
                "0.0.0.0:0 --token-file /shared/run/token --address-file "
                "/shared/run/address --lease-ttl 45 --hang-timeout 900 --allow-remote --tls-cert "
                "/shared/cert.pem --tls-key /shared/key.pem\n"));
  EXPECT_EQ(BashSyntaxCheck(script), 0);
  job.listen = "127.0.0.1:0";
  EXPECT_THAT(CoordinatorScript(job), Not(HasSubstr("--allow-remote")));
}

TEST(CheckScriptPath, RefusesRelativePathsAndWhatSbatchLinesCannotCarry) {
  EXPECT_TRUE(CheckScriptPath("--logs", "/shared/me/logs").ok());
  EXPECT_EQ(CheckScriptPath("--logs", "logs").message(), "--logs: 'logs' is not an absolute path");
  for (const char* bad : {"/my logs", "/a'b", "/a$HOME", "/a\\b"}) {
    SCOPED_TRACE(bad);
    const absl::Status status = CheckScriptPath("--db", bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("#SBATCH lines cannot carry"));
  }
}

TEST(RestartPolicy, DoublesEachGroupsDelayUpToTheMaximumAndStopsAtTheLimit) {
  FakeClock clock;
  const Timestamp start = clock.Now();
  RestartPolicy policy(5, std::chrono::seconds(1), std::chrono::seconds(3), clock);
  EXPECT_EQ(policy.Ended(0), start + std::chrono::seconds(1));
  EXPECT_EQ(policy.Ended(0), start + std::chrono::seconds(2));
  EXPECT_EQ(policy.Ended(1), start + std::chrono::seconds(1));  // its own count
  EXPECT_EQ(policy.Ended(0), start + std::chrono::seconds(3));  // 4 s capped at 3
  clock.Advance(std::chrono::seconds(10));
  EXPECT_EQ(policy.Ended(0), start + std::chrono::seconds(13));
  EXPECT_EQ(policy.used(), 5);
  EXPECT_EQ(policy.Ended(1), std::nullopt);  // the limit is for all groups together
}

TEST(RunCommand, CapturesStdoutAndStderrApartWithTheExitCode) {
  const absl::StatusOr<CommandOutput> out =
      RunCommand({"sh", "-c", "echo to-out; echo to-err >&2; exit 3"}, std::chrono::seconds(10));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->exit_code, 3);
  EXPECT_EQ(out->out, "to-out\n");
  EXPECT_EQ(out->err, "to-err\n");
  const absl::StatusOr<CommandOutput> killed =
      RunCommand({"sh", "-c", "kill -9 $$"}, std::chrono::seconds(10));
  ASSERT_TRUE(killed.ok());
  EXPECT_EQ(killed->exit_code, 128 + 9);
}

TEST(RunCommand, MissingProgramIsNotFoundAndAHangIsCutOff) {
  EXPECT_EQ(RunCommand({"istar-no-such-program"}, std::chrono::seconds(1)).status().code(),
            absl::StatusCode::kNotFound);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(RunCommand({"sleep", "30"}, std::chrono::milliseconds(200)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

}  // namespace
}  // namespace istar::cli

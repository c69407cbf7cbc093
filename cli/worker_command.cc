// `istar worker`: one rank of a worker group (started under mpirun or srun, or alone as a group
// of one) that leases trials from a coordinator and trains them (docs/worker.md).
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/coordinator_flags.h"
#include "comm/communicator.h"
#include "coordinator/client.h"
#include "trainer/device.h"
#include "worker/worker.h"

namespace istar::cli {
namespace {

struct WorkerFlags {
  ConnectionFlags connection;
  std::string checkpoint_dir = "checkpoints";
  std::string worker_id;
  int64_t max_trials = 0;
  double exit_when_idle_seconds = 0;
  int64_t batch_rows = 1000;
  bool float64 = false;
  bool no_progress = false;
  std::string device = "auto";
  double hang_timeout_seconds = 600;
  int64_t simulate_steps = 0;
  double simulate_step_ms = 10;
};

// Set by SIGTERM / SIGINT (mpirun forwards them to every rank): stop at the next step and hand
// the trial back. A lock-free atomic store is async-signal-safe.
std::atomic<bool> g_stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void RequestStop(int) { g_stop_requested.store(true); }

int Run(const WorkerFlags& flags) {
  struct sigaction action = {};
  action.sa_handler = RequestStop;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);

  std::unique_ptr<comm::MpiSession> session;
  std::unique_ptr<comm::Communicator> mpi;
  comm::LocalCommunicator local;
  comm::Communicator* group = &local;
  if (comm::MpiSession::InMpiJob()) {
    int argc = 0;
    char** argv = nullptr;
    absl::StatusOr<std::unique_ptr<comm::MpiSession>> started =
        comm::MpiSession::Start(&argc, &argv);
    if (!started.ok()) return ReportError("worker", started.status());
    session = *std::move(started);
    absl::StatusOr<std::unique_ptr<comm::Communicator>> created =
        comm::CreateMpiCommunicator(*session);
    if (!created.ok()) return ReportError("worker", created.status());
    mpi = *std::move(created);
    group = mpi.get();
  }
  const bool leader = group->rank() == 0;
  // The ranks' devices first: a group that cannot train leases nothing.
  absl::StatusOr<trainer::GroupDevice> device = trainer::SetUpGroupDevice(*group, flags.device);
  if (!device.ok()) {
    return leader || comm::IsAgreed(device.status()) ? ReportError("worker", device.status())
                                                     : ExitCode(device.status());
  }
  // Only rank 0 talks to the coordinator; the others need no token.
  std::unique_ptr<coordinator::CoordinatorClient> client;
  absl::Status connected;
  if (leader) {
    absl::StatusOr<std::unique_ptr<coordinator::CoordinatorClient>> made =
        ConnectFromFlags(flags.connection);
    if (made.ok()) client = *std::move(made);
    connected = made.status();
  }
  absl::Status status = comm::AgreeOnStatus(*group, connected);
  if (status.ok()) {
    status = worker::RunWorker(
        {.worker_id = flags.worker_id,
         .checkpoint_dir = flags.checkpoint_dir,
         .max_trials = flags.max_trials,
         .exit_when_idle_for =
             std::chrono::milliseconds(static_cast<int64_t>(flags.exit_when_idle_seconds * 1000)),
         .batch_rows = flags.batch_rows,
         .float64 = flags.float64,
         .device = device->device,
         .tensor_group = device->tensors.get(),
         .progress = !flags.no_progress,
         .hang_timeout =
             std::chrono::milliseconds(static_cast<int64_t>(flags.hang_timeout_seconds * 1000)),
         .abort_group =
             [&session] {
               if (session != nullptr) session->Abort(1);
               std::_Exit(1);
             },
         .simulate_steps = flags.simulate_steps,
         .simulate_step_time =
             std::chrono::milliseconds(static_cast<int64_t>(flags.simulate_step_ms))},
        *group, client.get(), g_stop_requested);
  }
  if (status.ok()) return 0;
  if (group->size() > 1 && !comm::IsAgreed(status)) {
    std::cerr << "istar worker: rank " << group->rank() << ": " << status.message()
              << "\nistar worker: ending every rank of the job\n";
    session->Abort(1);
  }
  return leader ? ReportError("worker", status) : ExitCode(status);
}

}  // namespace

CommandRunner AddWorkerCommand(CLI::App& app) {
  auto flags = std::make_shared<WorkerFlags>();
  CLI::App* cmd = app.add_subcommand(
      "worker",
      "Run a worker group: lease trials from a coordinator, train each on every rank of this "
      "MPI job (mpirun -np R istar worker ...; alone: a group of one), report results. Stops "
      "on SIGTERM, handing a running trial back to the queue (docs/worker.md).");
  AddConnectionFlags(*cmd, flags->connection);
  cmd->add_option("--checkpoints", flags->checkpoint_dir,
                  "Checkpoint folder, shared by every worker group (a re-leased trial resumes "
                  "from it)")
      ->default_val("checkpoints");
  cmd->add_option("--worker-id", flags->worker_id,
                  "This group's name at the coordinator (default: host-pid)");
  cmd->add_option("--max-trials", flags->max_trials, "Stop after this many trials (0: no limit)")
      ->default_val(0)
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--exit-when-idle", flags->exit_when_idle_seconds,
                  "Stop after this many seconds with nothing to lease (0: wait for work)")
      ->default_val(0)
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--batch-rows", flags->batch_rows, "Metric rows sent per batch")
      ->default_val(1000)
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--float64", flags->float64, "Train in float64 (for comparisons in tests)");
  cmd->add_flag("--no-progress", flags->no_progress, "Print no training progress");
  cmd->add_option("--device", flags->device,
                  "cpu, cuda, cuda:N or auto (cuda where LibTorch sees a GPU, else cpu): where "
                  "each rank trains; under mpirun or srun each rank takes its local rank's GPU")
      ->default_val("auto");
  cmd->add_option("--hang-timeout", flags->hang_timeout_seconds,
                  "Seconds a trial may go without a step before the group counts it hung: it "
                  "fails the trial (retryable) and ends every rank (0: never)")
      ->default_val(600)
      ->check(CLI::Range(0.0, 86400.0));
  cmd->add_option("--simulate", flags->simulate_steps,
                  "The null trainer, for load and soak tests: each trial takes N synthetic steps "
                  "(no model, no data), streams their rows and completes (a group of one rank)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--simulate-step-ms", flags->simulate_step_ms,
                  "With --simulate: milliseconds each synthetic step takes")
      ->default_val(10)
      ->check(CLI::Range(0.0, 60000.0));
  return [flags] { return Run(*flags); };
}

}  // namespace istar::cli

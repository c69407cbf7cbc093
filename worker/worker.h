// File: worker/worker.h
// -----------------------------------------------------------------------------
// A worker group: the ranks of one MPI job that lease trials from the coordinator and train them
// together (docs/worker.md). Every rank calls RunWorker; rank 0 alone talks to the coordinator:
// it registers, leases a trial, broadcasts it to the other ranks, heartbeats from a background
// thread and streams the trial's rows in batches (buffered and retried with backoff while the
// coordinator is unreachable). All ranks train it (trainer::TrainTrial, data parallel). Then
// rank 0 completes or fails the lease and leases the next trial.
//
// A trial whose lease ends elsewhere stops at the next step: cancelled (the heartbeat says so) or
// lost (the lease expired and another group holds it; its reports are refused). A stop request
// (SIGTERM: preemption) stops the trial and hands it back as a requeue, not a failure; a trial
// re-leased later resumes from the latest checkpoint in the shared checkpoint folder.
//
// LibTorch-free header; worker.cc uses the trainer's LibTorch-free entry.
//
// Thread safety: RunWorker runs on the thread that started MPI; it starts one heartbeat thread
// per trial on rank 0.
#ifndef ISTAR_WORKER_WORKER_H_
#define ISTAR_WORKER_WORKER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"

namespace istar::comm {
class Communicator;
}  // namespace istar::comm

namespace istar::coordinator {
class CoordinatorClient;
}  // namespace istar::coordinator

namespace istar::worker {

struct WorkerOptions {
  // The group's name at the coordinator; empty: "<host>-<pid of rank 0>".
  std::string worker_id;
  // Checkpoints go to <checkpoint_dir>/<trial id>/; every group must see the same folder, so that
  // a trial re-leased to another group resumes where the last one left it.
  std::string checkpoint_dir = "checkpoints";
  // Stop after this many trials (0: no limit).
  int64_t max_trials = 0;
  // Stop after this long without a trial to lease (0: never; wait for work or a stop request).
  std::chrono::milliseconds exit_when_idle_for{0};
  // Rows buffered before a batch is sent.
  int64_t batch_rows = 1'000;
  // Train in float64 (tests).
  bool float64 = false;
  // Where this rank trains: "cpu", "cuda" or "cuda:N" (trainer::RunOptions::device; the device
  // trainer::SetUpGroupDevice chose for it).
  std::string device = "cpu";
  // The group over the devices' memory (NCCL) for the tensors of the steps, alive while
  // RunWorker runs; null: `group` carries them (trainer::RunOptions::tensor_group).
  comm::Communicator* tensor_group = nullptr;
  // Progress lines on stderr (rank 0).
  bool progress = true;
  // A trial that makes no progress (no step begins) for this long is a hang (Note [Hangs] in
  // worker.cc): rank 0 fails it as a retryable infrastructure error "hung: no progress for N s
  // at step k", then `abort_group` ends every rank of the job. Zero: no watchdog.
  std::chrono::milliseconds hang_timeout{600'000};
  // Ends every process of the group at once (MpiSession::Abort; std::_Exit alone). Required
  // when hang_timeout is set.
  std::function<void()> abort_group;
  // > 0: the null trainer (load and soak tests, docs/worker.md): each leased trial "trains" for
  // this many steps of `simulate_step_time` each, streaming synthetic rows, through the real
  // client and protocol. A group of one rank only.
  int64_t simulate_steps = 0;
  std::chrono::milliseconds simulate_step_time{10};
};

// Runs the worker group until a stop is requested (`stop`, on any rank; SIGTERM), max_trials
// trials have ended, or it has been idle for exit_when_idle_for. `client` is rank 0's connection
// to the coordinator, null on the other ranks. A collective: every rank of `group` calls it.
// Errors: FailedPrecondition if the coordinator quarantines this group; Unauthenticated,
// InvalidArgument from the coordinator; Unavailable if it stays unreachable. An error that
// only this rank has (comm::IsAgreed false, more than one rank) means the others may be waiting
// in a collective: end the job (MpiSession::Abort).
[[nodiscard]] absl::Status RunWorker(const WorkerOptions& options, comm::Communicator& group,
                                     coordinator::CoordinatorClient* client,
                                     const std::atomic<bool>& stop);

}  // namespace istar::worker

#endif  // ISTAR_WORKER_WORKER_H_

// A child process started by istar (the coordinator and the worker groups of `istar run`), with
// one owner: the destructor kills it (SIGKILL) and reaps it if it is still running, so no child
// outlives a failed run.
#ifndef ISTAR_CLI_CHILD_PROCESS_H_
#define ISTAR_CLI_CHILD_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace istar::cli {

class ChildProcess {
 public:
  // Starts `argv` (argv[0] looked up in PATH) in a process group of its own (a terminal's Ctrl-C
  // reaches only istar, which stops its children in order), with stdout and stderr appended to
  // `log_path`. Internal if it cannot be started.
  [[nodiscard]] static absl::StatusOr<ChildProcess> Start(const std::vector<std::string>& argv,
                                                          const std::string& log_path);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) = delete;
  ChildProcess(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // The exit code if it has ended (128 + signal for a signal), without waiting.
  std::optional<int> Poll();
  // Sends `signal` to it (not to its own children: mpirun forwards SIGTERM to its ranks).
  void Signal(int signal);
  // Sends `signal` to its own children (read from /proc/PID/task/*/children; Linux): for
  // mpirun, its ranks, signalled directly as a batch scheduler does when it preempts a job.
  void SignalChildren(int signal);
  // Waits up to `timeout` for it to end; its exit code, or nullopt if it is still running.
  std::optional<int> Wait(std::chrono::milliseconds timeout);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

// What a short command printed, and how it ended.
struct CommandOutput {
  int exit_code = 0;  // 128 + signal for a signal
  std::string out;    // its stdout
  std::string err;    // its stderr
};

// Runs `argv` (argv[0] looked up in PATH) to its end with stdin from /dev/null, capturing its
// stdout and stderr: for the cluster's commands (sbatch, squeue, scancel). NotFound when argv[0]
// cannot be started, DeadlineExceeded (after SIGKILL) when it runs longer than `timeout`.
[[nodiscard]] absl::StatusOr<CommandOutput> RunCommand(const std::vector<std::string>& argv,
                                                       std::chrono::milliseconds timeout);

}  // namespace istar::cli

#endif  // ISTAR_CLI_CHILD_PROCESS_H_

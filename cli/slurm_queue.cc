// Slurm's client commands, each run with a deadline and its output captured (cli/slurm.h).
#include <chrono>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "cli/child_process.h"
#include "cli/slurm.h"

namespace istar::cli {
namespace {

// slurmctld answers in milliseconds; a minute means it is down or overloaded.
constexpr std::chrono::seconds kCommandTimeout{60};

std::string Trimmed(const std::string& text) {
  return std::string(absl::StripAsciiWhitespace(text));
}

absl::StatusOr<CommandOutput> Run(const std::vector<std::string>& argv) {
  absl::StatusOr<CommandOutput> output = RunCommand(argv, kCommandTimeout);
  if (absl::IsNotFound(output.status())) {
    return absl::NotFoundError(
        absl::StrCat(output.status().message(), " (is Slurm's client installed and in PATH?)"));
  }
  return output;
}

}  // namespace

absl::Status SlurmQueue::CheckClient() const {
  const absl::StatusOr<CommandOutput> version = Run({"sbatch", "--version"});
  if (!version.ok()) {
    return absl::FailedPreconditionError(
        "--launcher slurm: cannot run sbatch: is Slurm's client installed and in PATH?");
  }
  if (version->exit_code != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--launcher slurm: sbatch --version failed: ", Trimmed(version->err + version->out),
        " (is SLURM_CONF right?)"));
  }
  ISTAR_ASSIGN_OR_RETURN(const CommandOutput sinfo, Run({"sinfo", "--noheader", "--summarize"}));
  if (sinfo.exit_code != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--launcher slurm: Slurm does not answer (sinfo: ", Trimmed(sinfo.err + sinfo.out),
        "); is SLURM_CONF right, is slurmctld up?"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SlurmQueue::Submit(const std::string& script_path,
                                               const std::string& array) const {
  std::vector<std::string> argv = {"sbatch", "--parsable"};
  if (!array.empty()) argv.push_back(absl::StrCat("--array=", array));
  argv.push_back(script_path);
  ISTAR_ASSIGN_OR_RETURN(const CommandOutput output, Run(argv));
  if (output.exit_code != 0) {
    return absl::FailedPreconditionError(absl::StrCat("sbatch refused ", script_path,
                                                      " (exit code ", output.exit_code,
                                                      "): ", Trimmed(output.err + output.out)));
  }
  // --parsable prints "id" or "id;cluster".
  std::string id = Trimmed(output.out);
  id = id.substr(0, id.find(';'));
  if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
    return absl::InternalError(absl::StrCat("sbatch printed no job id for ", script_path, ": '",
                                            Trimmed(output.out), "'"));
  }
  return id;
}

absl::StatusOr<std::map<std::string, std::string>> SlurmQueue::Jobs(
    const std::string& job_name) const {
  ISTAR_ASSIGN_OR_RETURN(
      const CommandOutput output,
      Run({"squeue", "--noheader", "--array", "--me", "--name", job_name, "--format", "%i %T"}));
  if (output.exit_code != 0) {
    return absl::UnavailableError(
        absl::StrCat("squeue failed (exit code ", output.exit_code, "): ", Trimmed(output.err)));
  }
  std::map<std::string, std::string> jobs;
  std::istringstream lines(output.out);
  std::string id, state;
  while (lines >> id >> state) jobs[id] = state;
  return jobs;
}

absl::Status SlurmQueue::Cancel(const std::vector<std::string>& ids, const std::string& signal,
                                bool batch) const {
  if (ids.empty()) return absl::OkStatus();
  std::vector<std::string> argv = {"scancel"};
  if (!signal.empty()) argv.push_back(absl::StrCat("--signal=", signal));
  if (batch) argv.push_back("--batch");
  argv.insert(argv.end(), ids.begin(), ids.end());
  ISTAR_ASSIGN_OR_RETURN(const CommandOutput output, Run(argv));
  if (output.exit_code != 0) {
    return absl::UnavailableError(
        absl::StrCat("scancel failed (exit code ", output.exit_code, "): ", Trimmed(output.err)));
  }
  return absl::OkStatus();
}

}  // namespace istar::cli

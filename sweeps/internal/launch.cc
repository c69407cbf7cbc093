// The `launch:` section: how `istar run --launcher slurm` submits the worker groups. Everything
// here ends up in a batch script's `#SBATCH` lines, so each value is checked to be one word of
// the form Slurm accepts: a value that sbatch would refuse (or, with a newline, one that would
// add lines of its own to the script) fails here, before anything is submitted.
#include <algorithm>
#include <cctype>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/status_macros.h"
#include "sweeps/internal/document.h"

namespace istar::sweeps::internal {
namespace {

constexpr std::string_view kLaunchKeys[] = {"slurm"};
constexpr std::string_view kSlurmKeys[] = {
    "partition",     "account", "time",           "nodes_per_group", "gpus_per_rank",
    "cpus_per_rank", "mem",     "signal_seconds", "extra_args",      "setup"};

// sbatch options istar writes itself, and the setting (if any) that sets them instead.
struct OwnedOption {
  std::string_view option;
  std::string_view setting;  // empty: istar derives it (ranks, logs, array, preemption)
};
constexpr OwnedOption kOwnedOptions[] = {{"--partition", "partition"},
                                         {"--account", "account"},
                                         {"--time", "time"},
                                         {"--nodes", "nodes_per_group"},
                                         {"--gpus-per-task", "gpus_per_rank"},
                                         {"--cpus-per-task", "cpus_per_rank"},
                                         {"--mem", "mem"},
                                         {"--signal", "signal_seconds"},
                                         {"--ntasks", ""},
                                         {"--array", ""},
                                         {"--output", ""},
                                         {"--error", ""},
                                         {"--open-mode", ""},
                                         {"--requeue", ""},
                                         {"--no-requeue", ""},
                                         {"--job-name", ""},
                                         {"--chdir", ""},
                                         {"--wrap", ""},
                                         {"--parsable", ""},
                                         {"--wait", ""}};

bool AllOf(std::string_view text, bool (*allowed)(unsigned char)) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [&](char c) {
    return allowed(static_cast<unsigned char>(c));
  });
}
bool IsDigit(unsigned char c) { return std::isdigit(c) != 0; }
// Partition and account names (a partition list is comma-separated).
bool IsNameCharacter(unsigned char c) {
  return std::isalnum(c) != 0 || c == '_' || c == '-' || c == '.' || c == ',' || c == '+';
}

// A word for an #SBATCH line: a non-empty string of name characters.
absl::StatusOr<std::string> ReadName(const Reader& reader, const Field& field) {
  ISTAR_ASSIGN_OR_RETURN(std::string name, reader.String(field, /*non_empty=*/true));
  if (!AllOf(name, IsNameCharacter)) {
    return reader.Error(field, absl::StrCat("expected a Slurm name (letters, digits, _ - . , +), "
                                            "got '",
                                            name, "'"));
  }
  return name;
}

// Slurm's time limit formats ("minutes", "minutes:seconds", "hours:minutes:seconds",
// "days-hours", "days-hours:minutes", "days-hours:minutes:seconds"), in seconds; nullopt for
// anything else.
std::optional<int64_t> TimeLimitSeconds(std::string_view text) {
  std::optional<int64_t> days;
  const size_t dash = text.find('-');
  if (dash != std::string_view::npos) {
    if (!AllOf(text.substr(0, dash), IsDigit) || dash > 6) return std::nullopt;
    days = std::stoll(std::string(text.substr(0, dash)));
    text.remove_prefix(dash + 1);
  }
  std::vector<std::string_view> parts;
  for (size_t colon; (colon = text.find(':')) != std::string_view::npos;) {
    parts.push_back(text.substr(0, colon));
    text.remove_prefix(colon + 1);
  }
  parts.push_back(text);
  if (parts.size() > 3) return std::nullopt;
  std::vector<int64_t> values;
  for (std::string_view part : parts) {
    if (!AllOf(part, IsDigit) || part.size() > 6) return std::nullopt;
    values.push_back(std::stoll(std::string(part)));
  }
  if (days.has_value()) {  // D-H, D-H:M, D-H:M:S
    values.resize(3, 0);
    return ((*days * 24 + values[0]) * 60 + values[1]) * 60 + values[2];
  }
  switch (values.size()) {
    case 1:
      return values[0] * 60;
    case 2:
      return values[0] * 60 + values[1];
    default:
      return (values[0] * 60 + values[1]) * 60 + values[2];
  }
}

// --mem: an integer with an optional unit, K, M (the default), G or T.
bool IsMemory(std::string_view text) {
  if (!text.empty() && std::string_view("KMGT").find(text.back()) != std::string_view::npos) {
    text.remove_suffix(1);
  }
  return AllOf(text, IsDigit) && text.find_first_not_of('0') != std::string_view::npos;
}

// extra_args: sbatch options, none that istar writes itself, none with a newline.
absl::StatusOr<std::vector<std::string>> ReadExtraArgs(const Reader& reader, const Field& field) {
  ISTAR_ASSIGN_OR_RETURN(const std::vector<Field> elements, reader.List(field, "sbatch options"));
  std::vector<std::string> args;
  for (const Field& element : elements) {
    absl::StatusOr<std::string> read = reader.String(element, /*non_empty=*/true);
    if (!read.ok()) return read.status();
    const std::string arg = *std::move(read);
    const std::string_view name = std::string_view(arg).substr(0, arg.find('='));
    if (name.size() < 3 || name.substr(0, 2) != "--" ||
        name.find_first_of(" \t\r\n") != std::string_view::npos ||
        arg.find_first_of("\r\n") != std::string::npos) {
      return reader.Error(element, absl::StrCat("expected an sbatch option --name or "
                                                "--name=value on one line, got '",
                                                arg, "'"));
    }
    for (const OwnedOption& owned : kOwnedOptions) {
      if (name != owned.option) continue;
      return reader.Error(element,
                          owned.setting.empty()
                              ? absl::StrCat(std::string(name), " is set by istar run itself")
                              : absl::StrCat(std::string(name), " is set by launch.slurm.",
                                             std::string(owned.setting)));
    }
    args.push_back(std::move(arg));
  }
  return args;
}

// setup: shell lines, one command each.
absl::StatusOr<std::vector<std::string>> ReadSetup(const Reader& reader, const Field& field) {
  ISTAR_ASSIGN_OR_RETURN(const std::vector<Field> elements, reader.List(field, "shell lines"));
  std::vector<std::string> lines;
  for (const Field& element : elements) {
    ISTAR_ASSIGN_OR_RETURN(std::string line, reader.String(element, /*non_empty=*/true));
    if (line.find_first_of("\r\n") != std::string::npos) {
      return reader.Error(element, "expected one shell line, without a line break");
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

absl::Status ReadSlurmField(const Reader& reader, const MapEntry& entry, SlurmSettings& slurm) {
  const std::string& key = entry.key;
  const Field& value = entry.value;
  if (key == "partition") return Store(ReadName(reader, value), slurm.partition);
  if (key == "account") return Store(ReadName(reader, value), slurm.account);
  if (key == "nodes_per_group") return Store(reader.Int(value, kAtLeastOne), slurm.nodes_per_group);
  if (key == "gpus_per_rank") return Store(reader.Int(value, kNonNegative), slurm.gpus_per_rank);
  if (key == "cpus_per_rank") return Store(reader.Int(value, kAtLeastOne), slurm.cpus_per_rank);
  if (key == "signal_seconds") {
    return Store(reader.Int(value, Bounds{.min = 0.0, .max = 65535.0}), slurm.signal_seconds);
  }
  if (key == "extra_args") return Store(ReadExtraArgs(reader, value), slurm.extra_args);
  if (key == "setup") return Store(ReadSetup(reader, value), slurm.setup);
  if (key == "time") {
    ISTAR_ASSIGN_OR_RETURN(slurm.time, reader.String(value, /*non_empty=*/true));
    const std::optional<int64_t> seconds = TimeLimitSeconds(slurm.time);
    if (!seconds.has_value() || *seconds <= 0) {
      return reader.Error(value, absl::StrCat("expected a Slurm time limit > 0 (minutes, M:S, "
                                              "H:M:S, D-H, D-H:M or D-H:M:S), got '",
                                              slurm.time, "'"));
    }
    return absl::OkStatus();
  }
  ISTAR_CHECK(key == "mem") << "launch.slurm key '" << key << "' passed Map() unread";
  ISTAR_ASSIGN_OR_RETURN(slurm.mem, reader.String(value, /*non_empty=*/true));
  if (!IsMemory(slurm.mem)) {
    return reader.Error(value, absl::StrCat("expected memory per node as a positive integer with "
                                            "an optional unit K, M, G or T (e.g. 64G), got '",
                                            slurm.mem, "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<SlurmSettings> ReadSlurm(const Reader& reader, const Field& field,
                                        const TrainingSettings& training) {
  ISTAR_ASSIGN_OR_RETURN(const MapFields map, reader.Map(field, kSlurmKeys));
  SlurmSettings slurm;
  for (const MapEntry& entry : map.entries()) {
    ISTAR_RETURN_IF_ERROR(ReadSlurmField(reader, entry, slurm));
  }
  if (const Field* nodes = map.Find("nodes_per_group");
      nodes != nullptr && slurm.nodes_per_group > training.ranks_per_trial) {
    return reader.Error(*nodes, absl::StrCat(slurm.nodes_per_group, " nodes for a group of ",
                                             training.ranks_per_trial,
                                             " rank(s) (training.ranks_per_trial): a node "
                                             "would have no rank"));
  }
  const Field* time = map.Find("time");
  const Field* signal = map.Find("signal_seconds");
  if (time != nullptr && slurm.signal_seconds > 0 &&
      *TimeLimitSeconds(slurm.time) <= slurm.signal_seconds) {
    return reader.Error(signal != nullptr ? *signal : *time,
                        absl::StrCat("the preemption signal comes ", slurm.signal_seconds,
                                     " s before the end of a ", *TimeLimitSeconds(slurm.time),
                                     " s time limit: it must come after the job starts"));
  }
  return slurm;
}

}  // namespace

absl::StatusOr<LaunchSettings> ReadLaunch(const Reader& reader, const Field& field,
                                          const TrainingSettings& training) {
  ISTAR_ASSIGN_OR_RETURN(const MapFields map, reader.Map(field, kLaunchKeys));
  LaunchSettings launch;
  if (const Field* slurm = map.Find("slurm")) {
    if (slurm->node.IsNull()) {
      launch.slurm = SlurmSettings{};
    } else {
      ISTAR_ASSIGN_OR_RETURN(launch.slurm, ReadSlurm(reader, *slurm, training));
    }
  }
  return launch;
}

}  // namespace istar::sweeps::internal

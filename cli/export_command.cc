// `istar export --db FILE --trial ID`: one trial's metric and isotropy trajectories as CSV.
#include <CLI/CLI.hpp>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "cli/commands.h"
#include "cli/table.h"
#include "db/store.h"

namespace istar::cli {
namespace {

struct ExportFlags {
  std::string db;
  std::string trial;
  std::string out;
  std::string only;
};

Table MetricsTable(const db::Trajectories& trajectories) {
  Table table{.columns = {"trial_id", "step", "epoch", "split", "name", "value"}};
  for (const db::MetricRow& row : trajectories.metrics) {
    table.rows.push_back({Text(row.trial_id), Number(row.step), Number(row.epoch), Text(row.split),
                          Text(row.name), Number(row.value)});
  }
  return table;
}

// layer -1 is the union of all layers (docs/database.md).
Table IsotropyTable(const db::Trajectories& trajectories) {
  Table table{.columns = {"trial_id", "step", "epoch", "layer", "isoscore_star", "isoscore",
                          "avg_cosine", "twonn"}};
  for (const db::IsotropyRow& row : trajectories.isotropy) {
    table.rows.push_back({Text(row.trial_id), Number(row.step), Number(row.epoch),
                          Number(row.layer), Number(row.isoscore_star), Number(row.isoscore),
                          Number(row.avg_cosine), Number(row.twonn)});
  }
  return table;
}

absl::Status WriteFile(const std::filesystem::path& path, const Table& table) {
  std::ofstream out(path);
  WriteTable(table, TableFormat::kCsv, out);
  out.close();
  if (!out) {
    return absl::InternalError(
        absl::StrCat(path.string(), ": cannot write: ", std::generic_category().message(errno)));
  }
  std::cout << "wrote " << path.string() << " (" << table.rows.size() << " rows)\n";
  return absl::OkStatus();
}

absl::Status Run(const ExportFlags& flags) {
  ISTAR_ASSIGN_OR_RETURN(std::unique_ptr<db::Store> store,
                         db::Store::Open(flags.db, {.mode = db::OpenMode::kReadOnly}));
  ISTAR_ASSIGN_OR_RETURN(const std::string trial_id, store->ResolveTrialId(flags.trial));
  ISTAR_ASSIGN_OR_RETURN(const db::Trajectories trajectories, store->ExportTrajectories(trial_id));
  const bool metrics = flags.only != "isotropy";
  const bool isotropy = flags.only != "metrics";
  if (flags.out.empty()) {
    // Both tables on stdout: metrics first, a blank line, then isotropy.
    if (metrics) WriteTable(MetricsTable(trajectories), TableFormat::kCsv, std::cout);
    if (metrics && isotropy) std::cout << "\n";
    if (isotropy) WriteTable(IsotropyTable(trajectories), TableFormat::kCsv, std::cout);
    return absl::OkStatus();
  }
  const std::filesystem::path dir(flags.out);
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::InternalError(absl::StrCat(flags.out, ": cannot create: ", error.message()));
  }
  if (metrics) ISTAR_RETURN_IF_ERROR(WriteFile(dir / "metrics.csv", MetricsTable(trajectories)));
  if (isotropy) ISTAR_RETURN_IF_ERROR(WriteFile(dir / "isotropy.csv", IsotropyTable(trajectories)));
  return absl::OkStatus();
}

}  // namespace

CommandRunner AddExportCommand(CLI::App& app) {
  auto flags = std::make_shared<ExportFlags>();
  CLI::App* cmd = app.add_subcommand(
      "export",
      "Write a trial's metric and isotropy trajectories as CSV, ordered by step: to "
      "DIR/metrics.csv and DIR/isotropy.csv with --out, otherwise to stdout.");
  cmd->add_option("--db", flags->db, "Results database (opened read-only)")->required();
  cmd->add_option("--trial", flags->trial, "Trial id, or a prefix of it that is unique")
      ->required();
  cmd->add_option("--out", flags->out, "Directory to write metrics.csv and isotropy.csv into");
  cmd->add_option("--only", flags->only, "Export only one table: metrics or isotropy")
      ->check(CLI::IsMember({"metrics", "isotropy"}));
  return [flags] {
    const absl::Status status = Run(*flags);
    return status.ok() ? 0 : ReportError("export", status);
  };
}

}  // namespace istar::cli

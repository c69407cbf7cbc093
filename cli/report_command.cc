// `istar report --db FILE --out report.html`: the database as one self-contained HTML page.
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "cli/commands.h"
#include "cli/report.h"
#include "db/store.h"
#include "report/report.h"

namespace istar::cli {
namespace {

struct ReportFlags {
  std::string db;
  std::string out = "report.html";
  report::ReportOptions options;
};

// Writes `text` to `path` through `path`.tmp and a rename, so that a failed write (a full disk)
// leaves any earlier report in place instead of half a page.
absl::Status WriteWhole(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) {
    const std::string reason = std::generic_category().message(errno);
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    return absl::InternalError(absl::StrCat(path, ": cannot write the report: ", reason));
  }
  std::error_code error;
  std::filesystem::rename(tmp, path, error);
  if (error) {
    return absl::InternalError(absl::StrCat(path, ": cannot write the report: ", error.message()));
  }
  return absl::OkStatus();
}

absl::Status Run(const ReportFlags& flags) {
  return WriteReport(flags.db, flags.options, flags.out);
}

}  // namespace

absl::Status WriteReport(const std::string& db, const report::ReportOptions& options,
                         const std::string& out) {
  ISTAR_ASSIGN_OR_RETURN(std::unique_ptr<db::Store> store,
                         db::Store::Open(db, {.mode = db::OpenMode::kReadOnly}));
  ISTAR_ASSIGN_OR_RETURN(const std::string page, report::RenderReport(*store, options));
  ISTAR_RETURN_IF_ERROR(WriteWhole(out, page));
  std::cout << absl::StrFormat("wrote %s (%.1f MB): open it in a browser\n",
                               std::filesystem::absolute(out).string(),
                               static_cast<double>(page.size()) / 1e6);
  return absl::OkStatus();
}

CommandRunner AddReportCommand(CLI::App& app) {
  auto flags = std::make_shared<ReportFlags>();
  CLI::App* cmd = app.add_subcommand(
      "report",
      "Write the results database as one self-contained HTML page (docs/report.md): the "
      "comparison table with each cell's isotropy, isotropy over training, the per-layer "
      "profile, performance against isotropy, the metric against lambda, and every trial. "
      "The page needs no network access; each chart exports as PNG and SVG.");
  cmd->add_option("--db", flags->db, "Results database (opened read-only)")->required();
  cmd->add_option("--out", flags->out, "The HTML file to write")->capture_default_str();
  cmd->add_option("--sweep", flags->options.sweeps,
                  "Only trials of this sweep (name, id or id prefix); repeatable");
  cmd->add_option("--split", flags->options.split, "The final_results split whose scores are shown")
      ->capture_default_str();
  cmd->add_option("--select-on", flags->options.selection_split,
                  "The split each cell's group is chosen on (default: --split); e.g. "
                  "--select-on selection --split report");
  cmd->add_option("--title", flags->options.title,
                  "The page's title (default: istar report: <database file name>)");
  return [flags] {
    const absl::Status status = Run(*flags);
    return status.ok() ? 0 : ReportError("report", status);
  };
}

}  // namespace istar::cli

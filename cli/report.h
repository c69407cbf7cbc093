// The HTML report of `istar report`, written by other commands too (`istar run` ends with it).
#ifndef ISTAR_CLI_REPORT_H_
#define ISTAR_CLI_REPORT_H_

#include <string>

#include "absl/status/status.h"
#include "report/report.h"

namespace CLI {
class App;
}  // namespace CLI

namespace istar::cli {

// Adds the flags that choose what a report shows (--sweep, --split, --select-on, --title) to
// `command`, writing into `options`: `istar report` and `istar dashboard` share them.
void AddReportContentFlags(CLI::App& command, report::ReportOptions& options);

// Writes the report page of the database `db` (opened read-only) to `out`, through `out`.tmp and
// a rename (a failed write leaves an earlier report whole), and prints "wrote <absolute path>
// (<size> MB): open it in a browser". The errors of db::Store::Open and report::RenderReport;
// Internal, naming `out`, when the file cannot be written.
[[nodiscard]] absl::Status WriteReport(const std::string& db, const report::ReportOptions& options,
                                       const std::string& out);

}  // namespace istar::cli

#endif  // ISTAR_CLI_REPORT_H_

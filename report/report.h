// File: report/report.h
// -----------------------------------------------------------------------------
// `istar report`: a results database as one self-contained HTML page (docs/report.md). The page
// carries its data as one JSON document (report/web/README.md, "Data") and draws it with the
// vendored ECharts (report/vendor/echarts/): the comparison table with each cell's isotropy,
// isotropy over training per regularizer, the per-layer isotropy profile, performance against
// isotropy, the metric against lambda, and every trial. Scripts and styles are inlined: the file
// opens with no network access.
//
// Example:
//
//   ISTAR_ASSIGN_OR_RETURN(std::unique_ptr<db::Store> store,
//                          db::Store::Open(path, {.mode = db::OpenMode::kReadOnly}));
//   ISTAR_ASSIGN_OR_RETURN(std::string page, report::RenderReport(*store, {}));
//
// Thread safety: the functions are safe to call concurrently on different stores (db::Store
// serializes calls on one store).
#ifndef ISTAR_REPORT_REPORT_H_
#define ISTAR_REPORT_REPORT_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "db/store.h"

namespace istar::report {

// What a live page (`istar dashboard`, docs/dashboard.md) adds to its data: the queue (sweeps'
// counts by status, worker groups and their quarantine) and how the page asks for newer data.
struct LiveOptions {
  // The data's version: the page sends it back (GET api/data?after=VERSION) to ask for newer.
  std::string version;
  // The page asks again this long after an answer; the server holds a question for up to
  // wait_ms while nothing changes.
  int64_t refresh_ms = 2000;
  int64_t wait_ms = 20000;
};

struct ReportOptions {
  // Only trials of these sweeps (names, ids or id prefixes), in the table, the charts and the
  // trial list; empty: every trial of the database.
  std::vector<std::string> sweeps;
  std::string split = "validation";  // final_results split whose scores are shown
  std::string selection_split;       // split the table's groups are chosen on; empty: `split`
  std::string title;                 // empty: "istar report: <database file name>"
  // Set: the data is a live page's (the keys "live" and "queue" of report/web/README.md).
  std::optional<LiveOptions> live;
};

// The page's data: the JSON document of report/web/README.md ("Data"). The comparison table is
// db::Store::Compare's with each task's primary metric; trajectories are layer −1's (the union
// of layers) `isoscore_star` and `isoscore` rows; with options.live, also the queue (every sweep
// of the database, whatever options.sweeps says, and every worker group). Errors: those of
// Store::Compare and Store::ListTrials (NotFound for a sweep that matches nothing, ...).
[[nodiscard]] absl::StatusOr<std::string> ReportData(db::Store& store,
                                                     const ReportOptions& options);

// The whole page: the template with the styles, ECharts, `data_json` and the page's script
// inlined. `data_json` is embedded in a <script type="application/json"> element with every "<"
// written "\u003c" (the same JSON string), so no text of the data can end the element.
std::string AssemblePage(std::string_view data_json);

// AssemblePage(ReportData(store, options)).
[[nodiscard]] absl::StatusOr<std::string> RenderReport(db::Store& store,
                                                       const ReportOptions& options);

}  // namespace istar::report

#endif  // ISTAR_REPORT_REPORT_H_

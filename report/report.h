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

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "db/store.h"

namespace istar::report {

struct ReportOptions {
  // Only trials of these sweeps (names, ids or id prefixes), in the table, the charts and the
  // trial list; empty: every trial of the database.
  std::vector<std::string> sweeps;
  std::string split = "validation";  // final_results split whose scores are shown
  std::string selection_split;       // split the table's groups are chosen on; empty: `split`
  std::string title;                 // empty: "istar report: <database file name>"
};

// The page's data: the JSON document of report/web/README.md ("Data"). The comparison table is
// db::Store::Compare's with each task's primary metric; trajectories are layer −1's (the union
// of layers) `isoscore_star` and `isoscore` rows. Errors: those of Store::Compare and
// Store::ListTrials (NotFound for a sweep that matches nothing, ...).
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

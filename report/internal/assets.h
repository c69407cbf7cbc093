// The files of the report page, compiled in by cmake/EmbedText.cmake (report/CMakeLists.txt):
// report/web/template.html, report.css, report.js and ECharts' echarts.min.js, byte for byte.
#ifndef ISTAR_REPORT_INTERNAL_ASSETS_H_
#define ISTAR_REPORT_INTERNAL_ASSETS_H_

#include <string_view>

namespace istar::report::internal {

extern const std::string_view kTemplateHtml;
extern const std::string_view kReportCss;
extern const std::string_view kReportJs;
extern const std::string_view kEchartsJs;

}  // namespace istar::report::internal

#endif  // ISTAR_REPORT_INTERNAL_ASSETS_H_

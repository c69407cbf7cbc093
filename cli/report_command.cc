// `istar report --db FILE --out report.html`: the database as one self-contained HTML page.
#include <CLI/CLI.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "cli/child_process.h"
#include "cli/commands.h"
#include "cli/report.h"
#include "db/store.h"
#include "nlohmann/json.hpp"
#include "report/report.h"

namespace istar::cli {
namespace {

struct ReportFlags {
  std::string db;
  std::string out = "report.html";
  report::ReportOptions options;
  std::string figures;   // a folder for every chart's PNG and SVG; empty: none
  std::string chromium;  // the browser that draws them; empty: $ISTAR_CHROMIUM or PATH's
};

// Writes `text` to `path` through `path`.tmp and a rename, so that a failed write (a full disk)
// leaves any earlier file in place instead of half of one.
absl::Status WriteWhole(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) {
    const std::string reason = std::generic_category().message(errno);
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    return absl::InternalError(absl::StrCat(path, ": cannot write: ", reason));
  }
  std::error_code error;
  std::filesystem::rename(tmp, path, error);
  if (error) {
    return absl::InternalError(absl::StrCat(path, ": cannot write: ", error.message()));
  }
  return absl::OkStatus();
}

// The text of HTML character data as Chromium's DOM dump writes it (&amp; &lt; &gt; &quot; and
// &nbsp;, which a <pre> of JSON text can hold), back to the text.
std::string HtmlText(std::string_view html) {
  std::string out;
  out.reserve(html.size());
  for (size_t i = 0; i < html.size(); ++i) {
    if (html[i] == '&') {
      bool replaced = false;
      for (const auto& [entity, text] :
           {std::pair<std::string_view, std::string_view>{"&amp;", "&"},
            {"&lt;", "<"},
            {"&gt;", ">"},
            {"&quot;", "\""},
            {"&#39;", "'"},
            {"&nbsp;", "\xc2\xa0"}}) {
        if (html.substr(i, entity.size()) == entity) {
          out.append(text);
          i += entity.size() - 1;
          replaced = true;
          break;
        }
      }
      if (replaced) continue;
    }
    out.push_back(html[i]);
  }
  return out;
}

// The bytes of a data URL: ";base64," data, or percent-encoded text (ECharts' SVG URLs).
absl::StatusOr<std::string> DataUrlBytes(const std::string& url) {
  const size_t comma = url.find(',');
  if (!url.starts_with("data:") || comma == std::string::npos) {
    return absl::InternalError("the page returned a figure that is not a data URL");
  }
  const std::string_view header(url.data(), comma);
  const std::string_view body(url.data() + comma + 1, url.size() - comma - 1);
  std::string bytes;
  if (header.ends_with(";base64")) {
    if (!absl::Base64Unescape(absl::string_view(body.data(), body.size()), &bytes)) {
      return absl::InternalError("the page returned a figure whose base64 is broken");
    }
    return bytes;
  }
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '%' && i + 2 < body.size() && std::isxdigit(body[i + 1]) &&
        std::isxdigit(body[i + 2])) {
      bytes.push_back(
          static_cast<char>(std::stoi(std::string(body.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      bytes.push_back(body[i]);
    }
  }
  return bytes;
}

// Note [Figures through headless Chromium]
// ECharts draws in a browser, and a page cannot write files. So `--figures` opens the written
// page as PAGE#figures in headless Chromium, whose page script then exports every chart as PNG
// and SVG (window.istarExportChart, report/web/README.md) into a hidden <pre id="istar-figures">
// as JSON; Chromium's --dump-dom prints the DOM, and istar writes the files from it. Virtual
// time lets the page finish drawing before the dump; a proxy on a closed port keeps the browser
// off the network; --no-sandbox because root cannot use Chromium's sandbox (the page is ours).
absl::Status WriteFigures(const std::string& page, const std::string& dir,
                          const std::string& chromium_flag) {
  std::vector<std::string> browsers;
  if (!chromium_flag.empty()) {
    browsers = {chromium_flag};
  } else if (const char* env = std::getenv("ISTAR_CHROMIUM"); env != nullptr && *env != '\0') {
    browsers = {env};
  } else {
    browsers = {"chromium", "chromium-browser", "google-chrome"};
  }
  const std::string url = "file://" + std::filesystem::absolute(page).string() + "#figures";
  absl::StatusOr<CommandOutput> dump = absl::NotFoundError("");
  for (const std::string& browser : browsers) {
    dump =
        RunCommand({browser, "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--no-first-run", "--proxy-server=127.0.0.1:9",
                    "--virtual-time-budget=120000", "--window-size=1400,5000", "--dump-dom", url},
                   std::chrono::minutes(10));
    if (dump.ok() || dump.status().code() != absl::StatusCode::kNotFound) break;
  }
  if (!dump.ok()) {
    if (dump.status().code() == absl::StatusCode::kNotFound) {
      return absl::FailedPreconditionError(
          absl::StrCat("--figures needs Chromium to draw the charts and found none (tried ",
                       absl::StrJoin(browsers, ", "),
                       "; name one with --chromium or $ISTAR_CHROMIUM). Without it, open ", page,
                       " and use each chart's PNG and SVG buttons"));
    }
    return dump.status();
  }
  const std::string open = "<pre id=\"istar-figures\" hidden=\"\">";
  const size_t begin = dump->out.find(open);
  const size_t end = begin == std::string::npos ? begin : dump->out.find("</pre>", begin);
  if (begin == std::string::npos || end == std::string::npos) {
    return absl::InternalError(absl::StrCat(
        chromium_flag.empty() ? browsers.front() : chromium_flag, " drew no figures of ", page,
        " (exit code ", dump->exit_code, "): ", dump->err.substr(0, 2000)));
  }
  const nlohmann::json figures = nlohmann::json::parse(
      HtmlText(std::string_view(dump->out).substr(begin + open.size(), end - begin - open.size())),
      nullptr, /*allow_exceptions=*/false);
  if (!figures.is_object()) {
    return absl::InternalError(absl::StrCat(page, ": the page's figures are not a JSON object"));
  }
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return absl::InternalError(absl::StrCat(dir, ": cannot create: ", error.message()));
  int written = 0;
  for (const auto& [id, images] : figures.items()) {
    for (const char* type : {"png", "svg"}) {
      if (!images.contains(type) || !images[type].is_string()) continue;
      ISTAR_ASSIGN_OR_RETURN(const std::string bytes,
                             DataUrlBytes(images[type].get<std::string>()));
      ISTAR_RETURN_IF_ERROR(
          WriteWhole((std::filesystem::path(dir) / absl::StrCat(id, ".", type)).string(), bytes));
      ++written;
    }
  }
  std::cout << "wrote " << written << " figures (PNG and SVG) to " << dir << "\n";
  return absl::OkStatus();
}

absl::Status Run(const ReportFlags& flags) {
  ISTAR_RETURN_IF_ERROR(WriteReport(flags.db, flags.options, flags.out));
  if (flags.figures.empty()) return absl::OkStatus();
  return WriteFigures(flags.out, flags.figures, flags.chromium);
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

void AddReportContentFlags(CLI::App& command, report::ReportOptions& options) {
  command.add_option("--sweep", options.sweeps,
                     "Only trials of this sweep (name, id or id prefix); repeatable");
  command.add_option("--split", options.split, "The final_results split whose scores are shown")
      ->capture_default_str();
  command.add_option("--select-on", options.selection_split,
                     "The split each cell's group is chosen on (default: --split); e.g. "
                     "--select-on selection --split report");
  command.add_option("--title", options.title,
                     "The page's title (default: istar report: <database file name>)");
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
  AddReportContentFlags(*cmd, flags->options);
  cmd->add_option("--figures", flags->figures,
                  "Also write every chart as DIR/<chart id>.png and .svg, drawn by headless "
                  "Chromium (docs/report.md)");
  cmd->add_option("--chromium", flags->chromium,
                  "The Chromium to draw --figures with (default: $ISTAR_CHROMIUM, else chromium, "
                  "chromium-browser or google-chrome on PATH)");
  return [flags] {
    const absl::Status status = Run(*flags);
    return status.ok() ? 0 : ReportError("report", status);
  };
}

}  // namespace istar::cli

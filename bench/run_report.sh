#!/usr/bin/env bash
# The report benchmark of issue 17: `istar report`'s data and page for 2,080 trials and 10^6
# isotropy rows (bench/report_bench.cc), then the time headless Chromium takes to load that page
# and draw every chart (until the page's data-istar-ready mark; report/web/README.md).
#
#   bash bench/run_report.sh [BUILD_DIR] [WORK_DIR]
set -euo pipefail
build=${1:-build}
work=${2:-$(mktemp -d)}
"$build/bench/istar_report_bench" "$work"
chromium=$(command -v chromium || command -v chromium-browser) || {
  echo "run_report: no chromium; the page is $work/report.html"; exit 0
}
start=$(date +%s.%N)
timeout 600 "$chromium" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
  --no-first-run --virtual-time-budget=120000 --window-size=1400,5000 --dump-dom \
  "file://$work/report.html" 2> /dev/null > "$work/dom.html"
end=$(date +%s.%N)
grep -q 'data-istar-ready="1"' "$work/dom.html" || { echo "run_report: the page did not become ready"; exit 1; }
# ready_ms: the page's own time from navigation to every chart drawn (report/web/README.md);
# the wall clock adds Chromium's start and its writing out of the whole DOM, data included.
ready=$(grep -oE '&quot;ready_ms&quot;:[0-9]+|"ready_ms":[0-9]+' "$work/dom.html" | grep -oE '[0-9]+$')
echo "chromium: every chart drawn ${ready} ms after navigation; $(awk "BEGIN { printf \"%.1f\", $end - $start }") s wall clock with --dump-dom"

# `istar dashboard` over the same database: the time until it serves (it builds the data once
# before listening), then the time of an answer from its cache (the file has not changed) and of
# a question held for nothing new (bounded by --max-wait 1).
istar="$build/cli/istar"
if [ -x "$istar" ] && command -v curl > /dev/null; then
  start=$(date +%s.%N)
  "$istar" dashboard --db "$work/bench.db" --listen 127.0.0.1:0 --max-wait 1 --quiet \
    > "$work/dashboard.out" 2> "$work/dashboard.log" &
  dashboard=$!
  url=""
  for _ in $(seq 600); do
    url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$work/dashboard.out" 2> /dev/null | head -1) || true
    [ -n "$url" ] && break
    sleep 0.1
  done
  served=$(date +%s.%N)
  [ -n "$url" ] || { echo "run_report: the dashboard did not start"; kill "$dashboard"; exit 1; }
  version=$(curl -s "${url}api/data" | python3 -c 'import json, sys; print(json.load(sys.stdin)["live"]["version"])')
  cached=$(curl -s -o /dev/null -w '%{time_total} %{size_download}' --compressed "${url}api/data")
  held=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' "${url}api/data?after=$version")
  kill "$dashboard"
  wait "$dashboard" 2> /dev/null || true
  echo "dashboard: serving after $(awk "BEGIN { printf \"%.1f\", $served - $start }") s;" \
       "a cached answer (gzip) ${cached% *} s for ${cached#* } bytes; a held question: ${held}"
fi

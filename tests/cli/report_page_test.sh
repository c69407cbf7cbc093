#!/usr/bin/env bash
# `istar report` as a user runs it, and its page in a real headless Chromium: a demo database of
# real trials (the demo model and data, baseline, CosReg and I-STAR, 2 seeds each), the report
# written, then the page loaded with no network: no console errors, every chart drawn with the
# expected number of series and non-blank pixels (the page's own test hook, #istar-test,
# report/web/README.md), and a screenshot that is not blank. Skipped (exit 77) without Chromium.
#
#   report_page_test.sh ISTAR REPO_ROOT
set -u
istar=${1:?usage: report_page_test.sh ISTAR REPO_ROOT}
root=${2:?usage: report_page_test.sh ISTAR REPO_ROOT}
chromium=$(command -v chromium || command -v chromium-browser) || {
  echo "report_page_test: no chromium on PATH (deploy/debian/install-deps.sh installs it): skipped"
  exit 77
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/expect.sh"
cd "$work" || exit 2
config="$root/examples/train-demo.yaml"

"$istar" demo-data demo > /dev/null || exit 2
for seed in 0 1; do
  for regularizer in baseline '{cosreg: {lambda: [0.001]}}' '{istar: {lambda: [-0.001], zeta: [0.2]}}'; do
    "$istar" train "$config" --db demo.db --checkpoints ck --no-progress --set grid.epochs=2 \
      --set grid.seed=$seed --set "grid.regularizers=[$regularizer]" > /dev/null 2>&1 ||
      { echo "report_page_test: training the demo trials failed"; exit 2; }
  done
done

expect report_written 0 'wrote .*/report\.html \([0-9.]+ MB\)' -- \
  "$istar" report --db demo.db --out report.html
expect unknown_sweep 2 'no sweep' -- "$istar" report --db demo.db --sweep nope --out x.html
expect nothing_written_on_error 1 '' -- test -e x.html
expect missing_db 2 'nope\.db' -- "$istar" report --db nope.db --out y.html

# Chromium with no network (--proxy-server to a closed port: a fetch would fail and show as an
# error); virtual time lets the page finish its rendering before the DOM is dumped.
browse() {
  timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --proxy-server=127.0.0.1:9 --enable-logging=stderr --v=0 \
    --virtual-time-budget=30000 "$@" "file://$work/report.html"
}
browse --window-size=1400,5000 --dump-dom > dom.html 2> chromium.log
expect page_ready 0 'data-istar-ready="1"' -- head -c 400 dom.html
# The page writes nothing to the console unless something failed; Chromium logs every console
# message (errors and uncaught exceptions too) as INFO:CONSOLE. grep exits 1: no such line.
expect no_console_messages 1 '^$' -- grep -E 'CONSOLE|Uncaught' chromium.log

# The test hook: {"errors": [...], "charts": [{"id", "kind", "series", "points", "nonblank"}],
# "tables": {...}}, checked charts by chart.
check_hook() {
  python3 - "$1" <<'PY'
import html, json, re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r'<pre id="istar-test"[^>]*>(.*?)</pre>', dom, re.S)
if not m:
    sys.exit("no #istar-test element")
hook = json.loads(html.unescape(m.group(1)))
expected = {  # chart id -> series: one a regularizer, one a zeta
    "traj-tiny-bert-sst2": 3, "layers-tiny-bert-sst2": 3, "perf-sst2": 3,
    "lambda-tiny-bert-sst2": 1,
}
charts = {c["id"]: c for c in hook["charts"]}
problems = list(hook["errors"])
for chart_id, series in expected.items():
    c = charts.get(chart_id)
    if c is None:
        problems.append(f"{chart_id}: missing")
    elif c["series"] != series:
        problems.append(f"{chart_id}: {c['series']} series, expected {series}")
    elif c["nonblank"] < 1000:
        problems.append(f"{chart_id}: {c['nonblank']} non-blank pixels")
if hook["tables"]["trial_rows"] != 6:
    problems.append(f"{hook['tables']['trial_rows']} trial rows, expected 6")
if hook["tables"]["comparison_rows"] != 1:
    problems.append(f"{hook['tables']['comparison_rows']} comparison rows, expected 1")
print("\n".join(problems) if problems else f"ok: {len(charts)} charts")
PY
}
expect charts_drawn 0 '^ok: [0-9]+ charts$' -- check_hook dom.html

# Figures for papers: every chart as PNG and SVG, drawn by the same Chromium from the page.
expect figures_written 0 'wrote 8 figures \(PNG and SVG\) to figs' -- \
  "$istar" report --db demo.db --out fig-report.html --figures figs --chromium "$chromium"
expect figures_are_pngs 0 '^4$' -- bash -c \
  'for f in figs/*.png; do head -c 8 "$f" | od -An -tx1 | grep -q "89 50 4e 47 0d 0a 1a 0a" && echo; done | wc -l'
expect figures_are_svgs 0 '^4$' -- bash -c 'grep -l "^<svg .*xmlns=\"http://www.w3.org/2000/svg\"" figs/*.svg | wc -l'
expect trajectory_figure 0 'traj-tiny-bert-sst2\.svg' -- ls figs
expect figures_need_chromium 2 'needs Chromium .*\(tried /nonexistent' -- \
  env ISTAR_CHROMIUM=/nonexistent "$istar" report --db demo.db --out nf.html --figures nf

# A screenshot of the page: a PNG with many pixels that are not the white background.
browse --window-size=1200,1600 --screenshot="$work/shot.png" > /dev/null 2>&1
count_inked() {
  python3 - "$1" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat = 8, b""
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        assert depth == 8 and colour in (2, 6), "unexpected PNG format"
        n = 3 if colour == 2 else 4
    elif kind == b"IDAT":
        idat += body
    pos += 12 + length
raw, stride, prev, inked = zlib.decompress(idat), width * n, bytearray(width * n), 0
for y in range(height):  # undo the PNG row filters (None, Sub, Up, Average, Paeth)
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - n] if i >= n else 0
        b, c = prev[i], (prev[i - n] if i >= n else 0)
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    inked += sum(1 for x in range(0, stride, n) if min(line[x:x + 3]) < 240)
    prev = line
print(f"{inked} inked pixels of {width * height}")
PY
}
expect screenshot_not_blank 0 '^[0-9]{5,} inked pixels' -- count_inked shot.png
finish report_page_test

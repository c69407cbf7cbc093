#!/usr/bin/env bash
# `istar dashboard` as a user runs it, and its live page in a real headless Chromium: a demo
# database of real trials (baseline and I-STAR on the demo model and data), the dashboard serving
# it read-only on 127.0.0.1, the page opened; then, while the page is open, new isotropy rows
# are written to the database by another program (SQLite's own sqlite3, as a coordinator would
# write them): the page's trajectory chart must gain those points, with no console message, and
# its queue must list the sweep. Skipped (exit 77) without Chromium.
#
#   dashboard_page_test.sh ISTAR REPO_ROOT
set -u
istar=${1:?usage: dashboard_page_test.sh ISTAR REPO_ROOT}
root=${2:?usage: dashboard_page_test.sh ISTAR REPO_ROOT}
chromium=$(command -v chromium || command -v chromium-browser) || {
  echo "dashboard_page_test: no chromium on PATH (deploy/debian/install-deps.sh installs it): skipped"
  exit 77
}
command -v sqlite3 > /dev/null || { echo "dashboard_page_test: no sqlite3: skipped"; exit 77; }
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null; done
  wait 2> /dev/null
  rm -rf "$work"
}
trap cleanup EXIT
source "$(dirname "$0")/expect.sh"
cd "$work" || exit 2
config="$root/examples/train-demo.yaml"

"$istar" demo-data demo > /dev/null || exit 2
for regularizer in baseline '{istar: {lambda: [-0.001], zeta: [0.2]}}'; do
  "$istar" train "$config" --db demo.db --checkpoints ck --no-progress --set grid.epochs=1 \
    --set "grid.regularizers=[$regularizer]" > /dev/null 2>&1 ||
    { echo "dashboard_page_test: training the demo trials failed"; exit 2; }
done
baseline=$(sqlite3 demo.db "SELECT id FROM trials WHERE regularizer = 'baseline'")
steps_before=$(sqlite3 demo.db "SELECT count(*) FROM isotropy WHERE trial_id = '$baseline' AND layer = -1")

# Bad input first: each is refused with a clear message and exit 2.
expect missing_db 2 'nope\.db' -- "$istar" dashboard --db nope.db --listen 127.0.0.1:0
expect remote_needs_permission 2 'not a loopback address' -- \
  "$istar" dashboard --db demo.db --listen 0.0.0.0:0 --quiet
expect help 0 'read-only' -- "$istar" dashboard --help

# The dashboard, on a free port; its URL is its first line on stdout. Each request it answers
# is a line on stderr.
"$istar" dashboard --db demo.db --listen 127.0.0.1:0 --refresh 0.2 --max-wait 1 \
  > dashboard.out 2> dashboard.log &
pids+=($!)
for _ in $(seq 100); do
  url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' dashboard.out 2> /dev/null | head -1)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "dashboard_page_test: the dashboard printed no URL"; cat dashboard.log; exit 1; }
expect healthz 0 '^ok$' -- python3 -c "import urllib.request; print(urllib.request.urlopen('${url}healthz').read().decode().strip())"

# The page, with no network but loopback (--proxy-server to a closed port; loopback bypasses
# proxies). Virtual time runs the page's timers fast and stops while its questions are held.
timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
  --no-first-run --proxy-server=127.0.0.1:9 --enable-logging=stderr --v=0 \
  --virtual-time-budget=6000 --window-size=1400,5000 --dump-dom "$url" > dom.html 2> chromium.log &
browser=$!
pids+=($browser)
# Once the page has been served (and then asked for newer data), another program writes ten
# more steps of the baseline trial's trajectory.
for _ in $(seq 300); do
  grep -q 'GET /api/data 20[04]' dashboard.log 2> /dev/null && break
  sleep 0.1
done
expect page_asked 0 'GET / 200' -- cat dashboard.log
sqlite3 demo.db "WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < 10)
  INSERT INTO isotropy (trial_id, step, epoch, layer, isoscore_star, isoscore, avg_cosine)
  SELECT '$baseline', 100000 + n, 1.0, -1, 0.01 * n, 0.01 * n, 0.5 FROM k" ||
  { echo "dashboard_page_test: sqlite3 could not write"; exit 1; }
wait "$browser"

expect page_ready 0 'data-istar-ready="1"' -- head -c 400 dom.html
expect no_console_messages 1 '^$' -- grep -E 'CONSOLE|Uncaught' chromium.log
check_hook() {
  python3 - "$1" "$2" <<'PY'
import html, json, re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
added = 10
m = re.search(r'<pre id="istar-test"[^>]*>(.*?)</pre>', dom, re.S)
if not m:
    sys.exit("no #istar-test element")
hook = json.loads(html.unescape(m.group(1)))
problems = list(hook["errors"])
live = hook["live"]
points = live["trajectory_points"]
if len(points) < 2:
    problems.append(f"the page rendered {len(points)} data version(s); expected an update: {live}")
elif points[-1] != points[0] + added:
    problems.append(f"trajectory points went {points}; expected the last to be {points[0]} + {added}")
if len(set(live["versions"])) != len(live["versions"]):
    problems.append(f"a version was rendered twice: {live['versions']}")
if live["state"] != "live":
    problems.append(f"live state {live['state']}")
if hook["queue"]["sweep_rows"] != 2:  # each `istar train` run is a sweep of its own
    problems.append(f"{hook['queue']['sweep_rows']} sweep rows in the queue, expected 2")
print("\n".join(problems) if problems else f"ok: trajectory points {points[0]} -> {points[-1]}")
PY
}
expect trajectory_gains_points 0 '^ok: trajectory points [0-9]+ -> [0-9]+$' -- check_hook dom.html "$steps_before"
# The page was answered with the new data at least once after its first load.
expect data_answered 0 'GET /api/data 200' -- cat dashboard.log

kill "${pids[0]}"
wait "${pids[0]}"
expect stops_cleanly 0 'stopped' -- cat dashboard.log
finish dashboard_page_test

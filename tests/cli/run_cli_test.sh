#!/usr/bin/env bash
# `istar run` as a user runs it (docs/cli.md): a coordinator on a free loopback port, two worker
# groups of two MPI ranks, the README's demo sweep, every
# trial done exactly once, the comparison table; a second run re-runs nothing; Ctrl-C hands the
# running trials back; a killed group is started again; bad input is refused before anything
# starts.
#
#   run_cli_test.sh ISTAR REPO_ROOT
set -u
istar=${1:?usage: run_cli_test.sh ISTAR REPO_ROOT}
root=${2:?usage: run_cli_test.sh ISTAR REPO_ROOT}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/expect.sh"
cd "$work" || exit 2
sweep="$root/examples/run-demo.yaml"
sql() { "$istar" sql --db "$1" --format csv "$2" | tail -n +2 | tr '\n' ' '; }

expect help 0 'Run a whole sweep: a coordinator over the database' -- "$istar" run --help
expect missing_file 2 'nothing\.yaml' -- "$istar" run nothing.yaml
printf 'name: x\nmodels:\n  m: ./m\ntasks:\n  sst2: ./d\ngrid:\n  bogus: [1]\n' > bad.yaml
expect invalid_sweep 2 'bad\.yaml:7:[0-9]+: grid\.bogus' -- "$istar" run bad.yaml
if ! command -v nvidia-smi >/dev/null 2>&1; then
  expect cuda_without_gpus 2 '2 worker group\(s\) of 1 rank\(s\) need 2 GPUs, one per rank, but this machine.s LibTorch sees no GPU' -- \
    "$istar" run "$sweep" --workers 2 --ranks 1 --device cuda
fi
expect slurm_cuda_without_gpus 2 '--device cuda needs GPUs: set launch.slurm.gpus_per_rank' -- \
  "$istar" run "$sweep" --launcher slurm --listen 127.0.0.1:0 --dry-run --device cuda
expect slurm_without_its_client 2 'cannot run sbatch: is Slurm.s client installed and in PATH' -- \
  env PATH=/nonexistent "$istar" run "$sweep" --launcher slurm --listen 127.0.0.1:0
expect remote_plaintext_refused 2 'listen on 0.0.0.0:0 without TLS' -- \
  "$istar" run "$sweep" --listen 0.0.0.0:0
expect nothing_started_for_bad_input 1 '' -- test -e results.db -o -e istar-slurm
# deploy/slurm/worker-group.sbatch is what a dry run of examples/paper.yaml prints, in a user's
# folder /shared/me/paper with istar in /shared/me/istar/bin (docs/deploy.md).
mkdir -p "$work/tpl/shared/me/paper"
expect slurm_template_is_current 0 '^$' -- bash -c "cd '$work/tpl/shared/me/paper' &&
  '$istar' run '$root/examples/paper.yaml' --launcher slurm --dry-run --workers 16 \
    --insecure-plaintext | tail -n +2 |
  sed 's#$work/tpl##g; s#$(readlink -f "$istar")#/shared/me/istar/bin/istar#g' |
  diff - '$root/deploy/slurm/worker-group.sbatch'"

"$istar" demo-data demo > /dev/null || exit 2
expect run_completes 0 'istar  *[+-]?0\.001' -- \
  "$istar" run "$sweep" --workers 2 --ranks 2 --db demo.db
expect every_trial_done 0 '^done,10 $' -- \
  sql demo.db "SELECT status, count(*) FROM trials GROUP BY status"
# The run ends with the sweep's HTML report (docs/report.md), its data the sweep's 10 trials.
expect run_wrote_report 0 '^10$' -- python3 -c '
import json, re
page = open("report.html", encoding="utf-8").read()
data = re.search(r"<script type=\"application/json\" id=\"istar-data\">(.*?)</script>", page, re.S)
print(len(json.loads(data.group(1))["trials"]))'
expect each_exactly_once 0 '^10,10 $' -- \
  sql demo.db "SELECT count(*), count(DISTINCT trial_id) FROM attempts"
expect both_groups_worked 0 '^2 $' -- sql demo.db "SELECT count(DISTINCT worker_id) FROM attempts"
expect trajectories_stored 0 '^10 $' -- \
  sql demo.db "SELECT count(DISTINCT trial_id) FROM isotropy WHERE layer = -1"
expect logs_kept 0 'istar-logs/coordinator.log istar-logs/worker-0.log istar-logs/worker-1.log' -- bash -c 'echo istar-logs/*'

# Again on the same database: every trial is done, so nothing runs and the table is the same.
expect second_run_reruns_nothing 0 '10 trials, 0 new' -- \
  "$istar" run "$sweep" --workers 1 --ranks 2 --db demo.db
# With its live dashboard (docs/dashboard.md), served while the run lasts; loopback only.
expect run_with_dashboard 0 'dashboard at http://127\.0\.0\.1:[0-9]+/' -- \
  "$istar" run "$sweep" --workers 1 --ranks 2 --db demo.db --dashboard 127.0.0.1:0
expect dashboard_loopback_only 2 '--dashboard 0\.0\.0\.0:0: give a loopback address' -- \
  "$istar" run "$sweep" --workers 1 --ranks 2 --db demo.db --dashboard 0.0.0.0:0
expect still_one_attempt_each 0 '^10 $' -- sql demo.db "SELECT count(*) FROM attempts"
# Ctrl-C mid-sweep (long trials: 20 epochs): the groups' ranks get SIGTERM, checkpoint and hand
# their trials back to the queue (attempts "abandoned", not failed), and no process is left.
start_interrupted() {
  setsid "$istar" run "$sweep" --workers 2 --ranks 2 --db stopped.db --checkpoints stopped-ckpt \
    --logs stopped-logs --set grid.epochs=20 > interrupted.log 2>&1 &
  run_pid=$!
}
start_interrupted
expect trials_running 0 '' -- wait_for 120 grep -q ' 2 running,' interrupted.log
kill -INT "$run_pid"
expect interrupted_exits_1 0 '' -- wait_for 120 bash -c "! kill -0 $run_pid"
wait "$run_pid"
code=$?
expect interrupted_exit_code 0 '^1$' -- echo "$code"
expect interrupted_message 0 'interrupted; run again to resume' -- cat interrupted.log
expect handed_back_not_failed 0 '^abandoned,2 ' -- \
  sql stopped.db "SELECT outcome, count(*) FROM attempts GROUP BY outcome ORDER BY outcome"
expect nothing_left_leased 0 '^0 $' -- \
  sql stopped.db "SELECT count(*) FROM trials WHERE status IN ('leased', 'running')"
expect no_process_left 1 '' -- pgrep -f "stopped-ckpt"

# A worker group killed mid-trial (mpirun and its ranks SIGKILLed, as a crashed node): istar run
# starts it again, the killed group's lease expires, and the sweep finishes.
setsid "$istar" run "$sweep" --workers 2 --ranks 2 --db restart.db --checkpoints restart-ckpt \
  --logs restart-logs --set grid.seed=[0] --set grid.epochs=4 --lease-ttl 3 --restart-delay 0.5 \
  > restarted.log 2>&1 &
run_pid=$!
expect restart_trials_running 0 '' -- wait_for 120 grep -q ' 2 running,' restarted.log
pkill -KILL -f -- "--worker-id run-$run_pid-0\$"
expect restarted_run_finishes 0 '' -- wait_for 240 bash -c "! kill -0 $run_pid"
wait "$run_pid"
expect restarted_run_exit_code 0 '^0$' -- echo "$?"
expect group_restarted 0 'worker group 0 exited with code [0-9]+; restarting it in' -- cat restarted.log
expect restart_counted 0 'groups: 2 running, 1 restarted' -- cat restarted.log
expect all_done_after_restart 0 '^done,5 $' -- \
  sql restart.db "SELECT status, count(*) FROM trials GROUP BY status"
expect killed_lease_expired 0 "^run-$run_pid-0,expired \$" -- \
  sql restart.db "SELECT worker_id, outcome FROM attempts WHERE outcome != 'done'"
expect restarted_group_worked 0 "^1 \$" -- \
  sql restart.db "SELECT count(*) > 0 FROM attempts WHERE worker_id = 'run-$run_pid-0.1'"
finish run_cli_test

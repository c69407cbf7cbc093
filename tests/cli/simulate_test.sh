#!/usr/bin/env bash
# The null trainer (`istar worker --simulate`, docs/worker.md, "Load and soak tests") through the
# real client and protocol: 60 trials on 4 groups of one rank, one group SIGKILLed mid-trial
# and the coordinator SIGKILLed and restarted on the same file and port: every trial done, each
# exactly once, every row stored once (the steps' rows are upserted by key: nothing lost, nothing
# duplicated), PRAGMA integrity_check ok.
#
#   simulate_test.sh ISTAR
set -u
istar=${1:?usage: simulate_test.sh ISTAR}
work=$(mktemp -d)
source "$(dirname "$0")/sessions.sh"
source "$(dirname "$0")/expect.sh"
cd "$work" || exit 2
sql() { "$istar" sql --db soak.db --format csv "$1" | tail -n +2 | tr '\n' ' '; }
openssl rand -hex 32 > token
chmod 600 token
cat > soak.yaml << 'YAML'
name: soak
models:
  tiny: ./no-model-needed
tasks:
  sst2: ./no-data-needed
grid:
  seed: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]
  regularizers:
    - baseline
    - cosreg: {lambda: [1]}
    - istar: {lambda: [-1], zeta: [0.2]}
YAML
coordinator() {  # [flags...]
  rm -f address
  start coordinator.log "$istar" coordinator --db soak.db --token-file token --address-file address \
    --lease-ttl 2 "$@"
  coordinator_pid=$started
  wait_for 30 test -s address || { echo "the coordinator did not start:"; cat coordinator.log; exit 2; }
  address=$(cat address)
}
coordinator
"$istar" sweep submit soak.yaml --coordinator "$address" --token-file token > /dev/null
groups=()
for k in 0 1 2 3; do
  start "g$k.log" "$istar" worker --coordinator "$address" --token-file token --worker-id "g$k" \
    --simulate 30 --simulate-step-ms 20 --exit-when-idle 8 --no-progress --checkpoints ckpt
  groups+=("$started")
done
expect trials_done_before_the_faults 0 '' -- wait_for 60 bash -c "[ \"\$('$istar' sql --db soak.db --format csv \"SELECT count(*) FROM trials WHERE status = 'done'\" | tail -1)\" -ge 5 ]"
pkill -KILL -s "${groups[0]}"
port=${address##*:}
kill -KILL "$coordinator_pid"
expect coordinator_killed 0 '' -- wait_for 10 gone "$coordinator_pid"
sleep 1
coordinator --listen "127.0.0.1:$port"
for k in 1 2 3; do
  expect "group_${k}_finishes" 0 '' -- wait_for 240 gone "${groups[$k]}"
done
expect every_trial_done 0 '^done,60 $' -- sql "SELECT status, count(*) FROM trials GROUP BY status"
expect each_done_exactly_once 0 '^60,60 $' -- \
  sql "SELECT count(*), count(DISTINCT trial_id) FROM attempts WHERE outcome = 'done'"
expect killed_group_expired 0 '^g0,expired ' -- \
  sql "SELECT worker_id, outcome FROM attempts WHERE outcome != 'done' ORDER BY worker_id"
expect every_step_stored_once 0 '^1800,1800 $' -- \
  sql "SELECT count(*), count(DISTINCT trial_id || '/' || step) FROM metrics"
expect isotropy_rows 0 '^180 $' -- sql "SELECT count(*) FROM isotropy"
expect final_results 0 '^60 $' -- sql "SELECT count(*) FROM final_results"
expect integrity_ok 0 '^ok $' -- sql "PRAGMA integrity_check"
kill -TERM "$coordinator_pid"
wait_for 30 gone "$coordinator_pid"
finish simulate_test

#!/usr/bin/env bash
# The soak of issue 14 (docs/worker.md, "Load and soak tests"): T trials on G groups of the null
# trainer (istar worker --simulate), a random group SIGKILLed every K seconds (and started again
# under a new name, as istar run would), the coordinator SIGKILLed and restarted on the same
# file and port twice; then every trial must be done exactly once, every step's row stored
# exactly once, and PRAGMA integrity_check ok. Prints the figures; exit 1 if a check fails.
#
#   bash bench/soak.sh ISTAR [TRIALS=2000] [GROUPS=16] [KILL_EVERY_S=3]
set -u
istar=${1:?usage: soak.sh ISTAR [TRIALS] [GROUPS] [KILL_EVERY_S]}
trials=${2:-2000}
ngroups=${3:-16}
kill_every=${4:-3}
steps=10
work=$(mktemp -d)
source "$(dirname "$0")/../tests/cli/sessions.sh"
cd "$work" || exit 2
alive() { ! gone "$1"; }
sql() { "$istar" sql --db soak.db --format csv "$1" | tail -n +2 | tr '\n' ' ' | sed 's/ $//'; }
openssl rand -hex 32 > token
chmod 600 token
seeds=$(seq -s, 0 $((trials / 2 - 1)))
printf 'name: soak\nmodels:\n  tiny: ./none\ntasks:\n  sst2: ./none\ngrid:\n  seed: [%s]\n  regularizers:\n    - baseline\n    - cosreg: {lambda: [1]}\n' \
  "$seeds" > soak.yaml
port=
coordinator() {
  rm -f address
  start coordinator.log "$istar" coordinator --db soak.db --token-file token --address-file address \
    --lease-ttl 2 ${port:+--listen 127.0.0.1:$port}
  coordinator_pid=$started
  for _ in $(seq 300); do [ -s address ] && break; sleep 0.1; done
  address=$(cat address)
  port=${address##*:}
}
group() {  # K: starts group slot K under a new name
  local k=$1
  starts[$k]=$((${starts[$k]:-0} + 1))
  start "g$k.log" "$istar" worker --coordinator "127.0.0.1:$port" --token-file token \
    --worker-id "g$k.${starts[$k]}" --simulate "$steps" --simulate-step-ms 5 --exit-when-idle 5 \
    --no-progress --checkpoints ckpt
  pids[$k]=$started
}
begin=$SECONDS
coordinator
"$istar" sweep submit soak.yaml --coordinator "$address" --token-file token > /dev/null
for k in $(seq 0 $((ngroups - 1))); do group "$k"; done
kills=0 restarts=0 last_kill=$SECONDS
done_count() { sql "SELECT count(*) FROM trials WHERE status = 'done'"; }
while [ "$(done_count)" -lt "$trials" ]; do
  sleep 0.5
  if [ $((SECONDS - last_kill)) -ge "$kill_every" ]; then
    k=$((RANDOM % ngroups))
    pkill -KILL -s "${pids[$k]}" 2> /dev/null
    kills=$((kills + 1))
    last_kill=$SECONDS
    group "$k"
  fi
  d=$(done_count)
  if { [ "$restarts" -eq 0 ] && [ "$d" -ge $((trials / 3)) ]; } ||
     { [ "$restarts" -eq 1 ] && [ "$d" -ge $((2 * trials / 3)) ]; }; then
    kill -KILL "$coordinator_pid"
    while alive "$coordinator_pid"; do sleep 0.05; done
    coordinator
    restarts=$((restarts + 1))
  fi
  for k in $(seq 0 $((ngroups - 1))); do alive "${pids[$k]}" || group "$k"; done
  [ $((SECONDS - begin)) -gt 1800 ] && { echo "soak: not finished after 30 minutes"; exit 1; }
done
elapsed=$((SECONDS - begin))
ok=0
check() {  # NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then echo "soak: $1: $3"; else echo "soak: FAIL $1: expected $2, got $3"; ok=1; fi
}
echo "soak: $trials trials, $ngroups groups, $kills groups SIGKILLed, coordinator SIGKILLed and restarted $restarts times, $elapsed s"
check "trials done" "$trials" "$(done_count)"
check "done attempts, distinct trials" "$trials,$trials" \
  "$(sql "SELECT count(*), count(DISTINCT trial_id) FROM attempts WHERE outcome = 'done'")"
check "metric rows, distinct (trial, step)" "$((trials * steps)),$((trials * steps))" \
  "$(sql "SELECT count(*), count(DISTINCT trial_id || '/' || step) FROM metrics")"
check "final results" "$trials" "$(sql "SELECT count(*) FROM final_results")"
check "integrity_check" "ok" "$(sql "PRAGMA integrity_check")"
echo "soak: attempts by outcome: $(sql "SELECT outcome, count(*) FROM attempts GROUP BY outcome")"
kill -TERM "$coordinator_pid"
exit "$ok"

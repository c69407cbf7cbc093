#!/usr/bin/env bash
# A full disk under the coordinator's database and under a worker group's checkpoints, on small
# tmpfs mounts (as root; exit 77, skipped, otherwise):
#
#   1. The coordinator's disk fills while four null-trainer groups report (Note [A full disk at
#      the coordinator] in coordinator/internal/service.cc): the coordinator says so on its log,
#      its calls that write are answered UNAVAILABLE, which the groups retry; leases that run out
#      meanwhile are retried once space is back. Every trial done exactly once, every step's row
#      stored once, nothing lost, PRAGMA integrity_check ok.
#   2. A worker group of two ranks cannot write its epoch checkpoint (the checkpoint folder's disk
#      is full): the trial fails with the error, retryable; the half-written checkpoint is
#      removed; after the folder gets room another group trains the trial, and its rows equal
#      (keys exactly, values to 1e-10) those of one uninterrupted `istar train`.
#
#   disk_full_test.sh ISTAR REPO_ROOT MPIEXEC [MPIEXEC_FLAGS...]
set -u
istar=${1:?usage: disk_full_test.sh ISTAR REPO_ROOT MPIEXEC [FLAGS...]}
root=${2:?usage: disk_full_test.sh ISTAR REPO_ROOT MPIEXEC [FLAGS...]}
mpiexec=${3:?usage: disk_full_test.sh ISTAR REPO_ROOT MPIEXEC [FLAGS...]}
shift 3
mpiflags=("$@")
work=$(mktemp -d)
source "$(dirname "$0")/sessions.sh"
source "$(dirname "$0")/expect.sh"
source "$(dirname "$0")/rows.sh"
cd "$work" || exit 2
mkdir dbdisk ckdisk
if [ "$(id -u)" -ne 0 ] || ! mount -t tmpfs -o size=64m tmpfs dbdisk 2> /dev/null; then
  echo "disk_full_test: needs root to mount a small tmpfs (mount -t tmpfs): skipped"
  exit 77
fi
at_cleanup umount "$work/dbdisk"
mount -t tmpfs -o size=200k tmpfs ckdisk || exit 2
at_cleanup umount "$work/ckdisk"
openssl rand -hex 32 > token
chmod 600 token
sql() { "$istar" sql --db "$1" --format csv "$2" | tail -n +2 | tr '\n' ' '; }
coordinator() {  # DB LOG TTL: sets $coordinator_pid and $address
  rm -f address
  start "$2" "$istar" coordinator --db "$1" --token-file token --address-file address --lease-ttl "$3"
  coordinator_pid=$started
  wait_for 30 test -s address || { echo "the coordinator did not start:"; cat "$2"; exit 2; }
  address=$(cat address)
}
fill() {  # DIR: a file that takes every free byte of DIR's disk
  dd if=/dev/zero of="$1/filler" bs=16k status=none 2> /dev/null
  true
}

# --- 1. The coordinator's database disk fills up -------------------------------------------------
cat > sim.yaml << 'YAML'
name: full
models:
  tiny: ./no-model-needed
tasks:
  sst2: ./no-data-needed
grid:
  seed: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
  regularizers: [baseline]
YAML
steps=300
coordinator dbdisk/results.db coordinator-1.log 2
"$istar" sweep submit sim.yaml --coordinator "$address" --token-file token > /dev/null
groups=()
for k in 0 1 2 3; do
  start "g$k.log" "$istar" worker --coordinator "$address" --token-file token --worker-id "g$k" \
    --simulate "$steps" --simulate-step-ms 20 --batch-rows 10 --checkpoints ckpt
  groups+=("$started")
done
at_least() {  # N QUERY: the count QUERY returns is N or more
  [ "$("$istar" sql --db dbdisk/results.db --format csv "$2" | tail -1)" -ge "$1" ]
}
expect rows_arrive 0 '' -- wait_for 60 at_least 200 "SELECT count(*) FROM metrics"
fill dbdisk
expect coordinator_says_its_disk_is_full 0 '' -- wait_for 60 grep -q 'its disk is full' coordinator-1.log
# Longer than a lease (2 s), than a trial (6 s) and than a group's patience for the answer to its
# last report (max(10 s, 2 TTL)): the trials in flight end, their reports fail, their leases run
# out; rows wait on rank 0 or are dropped with their attempt.
sleep 20
expect the_log_says_what_to_do 0 'cannot write the database .*results\.db .*SQLITE_FULL.*: its disk is full; [0-9]+ call\(s\) answered UNAVAILABLE so far, which clients retry; free space on that disk' -- \
  cat coordinator-1.log
expect told_once_per_30_s 0 '^1$' -- grep -c 'its disk is full' coordinator-1.log
expect a_group_hears_why 0 'report failed: the coordinator cannot write its database \(its disk is full\)' -- \
  cat g0.log g1.log g2.log g3.log
expect coordinator_still_up 0 '' -- kill -0 "$coordinator_pid"
expect groups_still_up 0 '' -- kill -0 "${groups[@]}"
expect reads_still_answered 0 '0?[0-9]+/12 finished' -- \
  "$istar" sweep status full --coordinator "$address" --token-file token
rm dbdisk/filler
expect sweep_finishes 0 '' -- wait_for 240 at_least 12 "SELECT count(*) FROM trials WHERE status = 'done'"
for k in 0 1 2 3; do
  signal_session TERM "${groups[$k]}"
  expect "group_${k}_stops" 0 '' -- wait_for 30 gone "${groups[$k]}"
done
expect every_trial_done 0 '^done,12 $' -- sql dbdisk/results.db "SELECT status, count(*) FROM trials GROUP BY status"
expect each_done_exactly_once 0 '^12,12 $' -- sql dbdisk/results.db \
  "SELECT count(*), count(DISTINCT trial_id) FROM attempts WHERE outcome = 'done'"
# The leases that ran out while nothing could be written were retried, not lost.
expect leases_run_out_were_retried 0 '^[1-9][0-9]* $' -- sql dbdisk/results.db \
  "SELECT count(*) FROM attempts WHERE outcome = 'expired'"
expect every_step_stored_once 0 "^$((12 * steps)),$((12 * steps)) \$" -- sql dbdisk/results.db \
  "SELECT count(*), count(DISTINCT trial_id || '/' || step) FROM metrics WHERE name = 'loss'"
expect no_step_missing 0 "^12 \$" -- sql dbdisk/results.db \
  "SELECT count(*) FROM (SELECT trial_id FROM metrics GROUP BY trial_id
     HAVING min(step) = 1 AND max(step) = $steps AND count(*) = $steps)"
expect final_results 0 '^12 $' -- sql dbdisk/results.db "SELECT count(*) FROM final_results"
expect database_integrity_ok 0 '^ok $' -- sql dbdisk/results.db "PRAGMA integrity_check"
kill -TERM "$coordinator_pid"
wait_for 30 gone "$coordinator_pid"

# --- 2. A worker group's checkpoint disk is full ---------------------------------------------------
demo_trial ckfull 2
group() {  # NAME [flags...]: a worker group of 2 ranks; sets $group_pid
  local name=$1
  shift
  start "$name.log" "$mpiexec" -n 2 "${mpiflags[@]}" "$istar" worker --coordinator "$address" \
    --token-file token --checkpoints ckdisk/checkpoints --worker-id "$name" --float64 \
    --no-progress "$@"
  group_pid=$started
}
coordinator ckpt.db coordinator-2.log 5
"$istar" sweep submit sweep.yaml --coordinator "$address" --token-file token > /dev/null
group A --max-trials 1
expect a_stops_after_its_trial 0 '' -- wait_for 180 gone "$group_pid"
expect a_names_the_file_and_the_cause 0 \
  "trial ${trial:0:12} failed: rank 0: .*/epoch-1\.tmp/[^ ]+: (write failed|cannot write the checkpoint): No space left on device" -- \
  cat A.log
expect a_failed_retryably 0 '^A,failed,.*No space left on device $' -- \
  sql ckpt.db "SELECT worker_id, outcome, error FROM attempts"
expect trial_back_in_the_queue 0 '^pending,1 $' -- sql ckpt.db "SELECT status, attempts FROM trials"
expect half_written_checkpoint_removed 0 '^$' -- find ckdisk -name '*.tmp'
mount -o remount,size=64m ckdisk || exit 2  # the operator gives the folder room
group B --exit-when-idle 3
expect b_finishes 0 '' -- wait_for 180 gone "$group_pid"
expect a_failed_b_done 0 '^A,failed B,done $' -- \
  sql ckpt.db "SELECT worker_id, outcome FROM attempts ORDER BY attempt"
expect rows_equal_an_uninterrupted_run 0 '^same [0-9]{3,} rows$' -- \
  same_rows reference.db "$trial" ckpt.db "$trial"
expect checkpoint_database_integrity_ok 0 '^ok $' -- sql ckpt.db "PRAGMA integrity_check"
kill -TERM "$coordinator_pid"
wait_for 30 gone "$coordinator_pid"
finish disk_full_test

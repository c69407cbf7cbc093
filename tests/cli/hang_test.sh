#!/usr/bin/env bash
# A hung worker group (docs/worker.md, "Hangs"): one of its ranks SIGSTOPped mid-trial, so the
# other blocks in a collective while rank 0's heartbeat thread could keep the lease alive
# forever. With --hang-timeout the group notices no progress, fails the trial as a retryable
# infrastructure error "hung: no progress for N s at step k" and ends every rank; another group
# retries the trial and finishes it, with rows equal (keys exactly, values to 1e-10) to an
# uninterrupted `istar train` of it on two ranks. Twice: rank 1 stopped (rank 0 reports the
# hang), then rank 0 stopped (rank 1 ends the group; the lease expires).
#
#   hang_test.sh ISTAR REPO_ROOT MPIEXEC [MPIEXEC_FLAGS...]
set -u
istar=${1:?usage: hang_test.sh ISTAR REPO_ROOT MPIEXEC [FLAGS...]}
root=${2:?usage: hang_test.sh ISTAR REPO_ROOT MPIEXEC [FLAGS...]}
mpiexec=${3:?usage: hang_test.sh ISTAR REPO_ROOT MPIEXEC [FLAGS...]}
shift 3
mpiflags=("$@")
work=$(mktemp -d)
source "$(dirname "$0")/sessions.sh"
source "$(dirname "$0")/expect.sh"
source "$(dirname "$0")/rows.sh"
cd "$work" || exit 2
sql() { "$istar" sql --db "$1" --format csv "$2" | tail -n +2 | tr '\n' ' '; }
rank_pid() {  # MPIEXEC_PID RANK: the pid of that rank of the job
  local pid
  for pid in $(pgrep -P "$1"); do
    if tr '\0' '\n' < "/proc/$pid/environ" 2> /dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
      echo "$pid"
      return 0
    fi
  done
  return 1
}
past_step() { grep -qE "^step ([2-9][0-9]|[1-9][0-9]{2,})/" "$1"; }  # a progress line past step 19

openssl rand -hex 32 > token
chmod 600 token
demo_trial hang 3

coordinator() {  # DB LOG TTL: sets $coordinator_pid and $address
  rm -f address
  start "$2" "$istar" coordinator --db "$1" --token-file token --address-file address --lease-ttl "$3"
  coordinator_pid=$started
  wait_for 30 test -s address || { echo "the coordinator did not start:"; cat "$2"; exit 2; }
  address=$(cat address)
}
group() {  # NAME [flags...]: a worker group of 2 ranks; sets $group_pid
  local name=$1
  shift
  start "$name.log" "$mpiexec" -n 2 "${mpiflags[@]}" "$istar" worker --coordinator "$address" \
    --token-file token --checkpoints "checkpoints-$db" --worker-id "$name" --float64 "$@"
  group_pid=$started
}

# --- 1. Rank 1 stopped: rank 0 fails the trial as hung and ends the group ----------------------
db=one
coordinator one.db coordinator-1.log 60  # a long lease: only the watchdog can free the trial
"$istar" sweep submit sweep.yaml --coordinator "$address" --token-file token > /dev/null
group A --hang-timeout 3
expect a_trains 0 '' -- wait_for 120 past_step A.log
kill -STOP "$(rank_pid "$group_pid" 1)"
expect a_ends_itself 0 '' -- wait_for 30 gone "$group_pid"
expect a_reports_the_hang 0 'hung: no progress for [0-9]+ s at step [0-9]+; failed it, ending the group' -- cat A.log
expect hang_is_a_retryable_failure 0 '^A,failed,hung: no progress for [0-9]+ s at step [0-9]+ $' -- \
  sql one.db "SELECT worker_id, outcome, error FROM attempts"
expect trial_back_in_the_queue 0 '^pending $' -- sql one.db "SELECT status FROM trials"
expect no_rank_of_a_left 1 '' -- pgrep -f -- "--worker-id A$"
group B --exit-when-idle 3
expect b_finishes 0 '' -- wait_for 180 gone "$group_pid"
expect done_by_b 0 '^done,2 $' -- sql one.db "SELECT status, attempts FROM trials"
expect rows_equal_after_a_hang 0 '^same [0-9]{3,} rows$' -- same_rows reference.db "$trial" one.db "$trial"
kill -TERM "$coordinator_pid"
wait_for 30 gone "$coordinator_pid"

# --- 2. Rank 0 stopped: rank 1 ends the group, the lease expires ------------------------------
db=two
coordinator two.db coordinator-2.log 3
"$istar" sweep submit sweep.yaml --coordinator "$address" --token-file token > /dev/null
group C --hang-timeout 3
expect c_trains 0 '' -- wait_for 120 past_step C.log
kill -STOP "$(rank_pid "$group_pid" 0)"
expect c_ends_itself 0 '' -- wait_for 30 gone "$group_pid"
expect rank_1_ends_the_group 0 'rank 1: no progress for [0-9]+ s at step [0-9]+, ending the group' -- cat C.log
expect no_rank_of_c_left 1 '' -- pgrep -f -- "--worker-id C$"
group D --exit-when-idle 5
expect d_finishes 0 '' -- wait_for 180 gone "$group_pid"
expect c_expired_d_done 0 '^C,expired D,done $' -- \
  sql two.db "SELECT worker_id, outcome FROM attempts ORDER BY attempt"
expect rows_equal_after_rank_0_hung 0 '^same [0-9]{3,} rows$' -- same_rows reference.db "$trial" two.db "$trial"
kill -TERM "$coordinator_pid"
wait_for 30 gone "$coordinator_pid"
finish hang_test

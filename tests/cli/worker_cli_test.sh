#!/usr/bin/env bash
# The coordinator and worker groups as a user starts them: real `istar coordinator` processes on
# loopback over real SQLite files, worker groups of two ranks under mpiexec, killed and
# restarted the way nodes die (docs/worker.md, docs/coordinator.md).
#
#   1. A worker group is SIGKILLed mid-trial: its lease expires, another group resumes the trial
#      from its epoch checkpoint; that group is preempted (SIGTERM) inside an epoch and hands the
#      trial back; a third resumes from the preemption checkpoint. The trial is done once, and its
#      rows equal, key for key and to 1e-10, those of one uninterrupted `istar train` of the same
#      trial on two ranks (float64, with dropout: each rank's generator is in the checkpoints;
#      I-STAR with S0).
#   2. The coordinator is SIGKILLed while a group trains, then restarted on the same file and
#      port: the sweep completes, every trial once, rows complete, PRAGMA integrity_check ok.
#   3. A wrong token is refused (UNAUTHENTICATED) and changes nothing; `istar workers list`
#      shows the group, and releasing an unknown one is refused.
#
#   worker_cli_test.sh ISTAR REPO_ROOT MPIEXEC [MPIEXEC_FLAGS...]
set -u
istar=${1:?usage: worker_cli_test.sh ISTAR REPO_ROOT MPIEXEC [FLAGS...]}
root=${2:?usage: worker_cli_test.sh ISTAR REPO_ROOT MPIEXEC [FLAGS...]}
mpiexec=${3:?usage: worker_cli_test.sh ISTAR REPO_ROOT MPIEXEC [FLAGS...]}
shift 3
mpiflags=("$@")
work=$(mktemp -d)
source "$(dirname "$0")/sessions.sh"
source "$(dirname "$0")/expect.sh"
source "$(dirname "$0")/rows.sh"
cd "$work" || exit 2

sql() { "$istar" sql --db "$1" --format csv "$2" | tail -n +2; }

"$istar" demo-data demo > /dev/null || exit 2
openssl rand -hex 32 > token
chmod 600 token
cat > sweep.yaml << 'EOF'
name: faults
models:
  tiny-bert: ./demo/model
tasks:
  sst2: ./demo/sst2
training:
  max_seq_length: 32
  precision: fp32
  isotropy_every_steps: 10
  shrinkage_points: 4000
  ranks_per_trial: 2
grid:
  batch_size: [8]
  epochs: [3]
  learning_rate: [2e-3]
  seed: [0]
  regularizers:
    - istar: {lambda: [-0.001], zeta: [0.2]}
EOF
sed 's/^name: faults/name: restart/; s/seed: \[0\]/seed: [1, 2, 3]/' sweep.yaml > restart.yaml

coordinator() {  # DB LOG [flags...]: starts a coordinator, sets $coordinator_pid and $address
  local db=$1 log=$2
  shift 2
  rm -f address
  start "$log" "$istar" coordinator --db "$db" --token-file token --address-file address "$@"
  coordinator_pid=$started
  wait_for 30 test -s address || { echo "the coordinator did not start:"; cat "$log"; exit 2; }
  address=$(cat address)
}
group() {  # NAME [flags...]: starts a worker group of 2 ranks, sets $group_pid
  local name=$1
  shift
  start "$name.log" "$mpiexec" -n 2 "${mpiflags[@]}" "$istar" worker --coordinator "$address" \
    --token-file token --checkpoints checkpoints --worker-id "$name" --float64 "$@"
  group_pid=$started
}

# The reference: the trial trained once, uninterrupted, by `istar train` on two ranks.
"$mpiexec" -n 2 "${mpiflags[@]}" "$istar" train sweep.yaml --db reference.db --float64 \
  --checkpoints reference-checkpoints --no-progress > reference.log 2>&1 || { echo "reference run failed:"; cat reference.log; exit 2; }
trial=$(sql reference.db "SELECT id FROM trials")

# --- 1. A group killed mid-trial, a group preempted, a third that finishes -------------------
coordinator faults.db coordinator-1.log --lease-ttl 2
"$istar" sweep submit sweep.yaml --coordinator "$address" --token-file token > /dev/null
group A
expect a_checkpointed_epoch_1 0 '' -- wait_for 120 test -f "checkpoints/$trial/epoch-1/state.json"
signal_session KILL "$group_pid"
expect a_killed 0 '' -- wait_for 10 gone "$group_pid"
group B --exit-when-idle 30
expect b_resumes_after_an_epoch 0 '' -- \
  wait_for 60 grep -qE 'resuming trial .* at step [0-9]+ \(epoch [12] done\)' B.log
resumed_at=$(grep -oE 'resuming trial .* at step [0-9]+' B.log | grep -oE '[0-9]+$')
# A progress line (every 10 steps) of B's past step AFTER and at least 20 steps inside an epoch,
# 40 before its end: a stop sent then lands inside the epoch, not at its checkpoint.
mid_epoch() {
  awk -v after="$1" '/^step [0-9]+\/[0-9]+ epoch/ {
      split($2, s, "/"); per_epoch = s[2] / 3; inside = s[1] % per_epoch;
      if (s[1] > after && inside >= 20 && inside <= per_epoch - 40) found = 1 }
    END { exit !found }' B.log
}
expect b_trains_inside_an_epoch 0 '' -- wait_for 60 mid_epoch "$resumed_at"
# Preemption as a scheduler does it: SIGTERM to every rank.
signal_session TERM "$group_pid"
expect b_exits_cleanly 0 '' -- wait_for 60 gone "$group_pid"
expect b_hands_the_trial_back 0 'stopped after [0-9]+ steps' -- cat B.log
expect preemption_checkpoint 0 '^step-[0-9]+$' -- ls "checkpoints/$trial"
group C --exit-when-idle 3
expect c_resumes_inside_the_epoch 0 '' -- wait_for 120 grep -qE 'resuming trial .*, inside it\)' C.log
expect c_finishes 0 '' -- wait_for 180 gone "$group_pid"
expect trial_done_once 0 '^done,2$' -- sql faults.db "SELECT status, attempts FROM trials"
# A's expiry counts as an attempt; B's requeue gives its attempt back (docs/database.md, "Leases").
expect attempts_expired_requeued_done 0 '^A,expired B,abandoned C,done $' -- bash -c \
  "'$istar' sql --db faults.db --format csv \"SELECT worker_id, outcome FROM attempts ORDER BY attempt\" | tail -n +2 | tr '\n' ' '"
expect preemption_checkpoint_superseded 0 '^epoch-1 epoch-2 epoch-3 $' -- bash -c \
  "for d in checkpoints/$trial/*; do printf '%s ' \"\$(basename \"\$d\")\"; done"

expect rows_equal_the_uninterrupted_run 0 '^same [0-9]{3,} rows$' -- \
  same_rows reference.db "$trial" faults.db "$trial"
signal_session TERM "$coordinator_pid"
expect coordinator_stops_on_sigterm 0 '' -- wait_for 30 gone "$coordinator_pid"

# --- 2. The coordinator killed and restarted on the same file ---------------------------------
# A lease of 10 s: the group's heartbeat must land within one TTL of the restart, on a machine
# that runs two ranks, the coordinator and other tests on two cores.
coordinator restart.db coordinator-2.log --lease-ttl 10
port=${address##*:}
expect submit_restart_sweep 0 '3 trials' -- \
  "$istar" sweep submit restart.yaml --coordinator "$address" --token-file token
group D --exit-when-idle 20
expect d_trains 0 '' -- wait_for 120 bash -c "ls checkpoints/*/epoch-1/state.json | grep -v $trial"
signal_session KILL "$coordinator_pid"
expect coordinator_killed 0 '' -- wait_for 10 gone "$coordinator_pid"
sleep 1
coordinator restart.db coordinator-2.log --lease-ttl 10 --listen "127.0.0.1:$port"
expect restarted_on_the_same_port 0 "^127.0.0.1:$port$" -- cat address
expect d_finishes_the_sweep 0 '' -- wait_for 300 gone "$group_pid"
expect all_done_once 0 '^done,3,3$' -- \
  sql restart.db "SELECT status, count(*), sum(attempts) FROM trials GROUP BY status"
expect integrity_ok 0 '^ok$' -- sql restart.db "PRAGMA integrity_check"
for t in $(sql restart.db "SELECT id FROM trials"); do
  expect "rows_complete_${t:0:8}" 0 '^same [0-9]{3,} rows$' -- \
    same_rows reference.db "$trial" restart.db "$t" keys
done

# --- 3. A wrong token changes nothing ----------------------------------------------------------
echo "not-the-token-0123456789abcdef" > wrong-token
chmod 600 wrong-token
cp token open-token
chmod 644 open-token
expect token_readable_by_others_refused 2 'open-token can be read by other users \(mode 0644\); run: chmod 600 open-token' -- \
  "$istar" sweep status restart --coordinator "$address" --token-file open-token
expect coordinator_refuses_an_open_token 2 'chmod 600 open-token' -- \
  "$istar" coordinator --db open.db --token-file open-token
expect remote_plaintext_coordinator_refused 2 'TLS is off' -- \
  "$istar" coordinator --db open.db --token-file token --listen 0.0.0.0:0 --allow-remote
expect wrong_token_unauthenticated 2 'UNAUTHENTICATED|wrong bearer token' -- \
  "$istar" sweep cancel restart --coordinator "$address" --token-file wrong-token
expect nothing_cancelled 0 '^done,3$' -- \
  sql restart.db "SELECT status, count(*) FROM trials GROUP BY status"
expect workers_listed 0 'D +[^ ]+ +[0-9-]+ [0-9:]+ +0 +no' -- \
  "$istar" workers list --coordinator "$address" --token-file token
expect release_unknown_worker 2 'nobody' -- \
  "$istar" workers release nobody --coordinator "$address" --token-file token
signal_session TERM "$coordinator_pid"
wait_for 30 gone "$coordinator_pid"
finish worker_cli_test

#!/usr/bin/env bash
# A network partition (docs/worker.md, "Rows, checkpoints and outages"): a worker group of two
# ranks runs in a network namespace of its own, joined to the coordinator's by a veth pair, and
# the link is cut mid-trial. The group trains on, cut off: its heartbeats and reports cannot get
# through, so it writes no checkpoint (its rows could not be delivered first). Its lease expires;
# another group leases the trial and resumes it from the last checkpoint. Then the link returns:
# the old group's late heartbeat and reports carry a fencing token that is no longer the lease's,
# the coordinator refuses them ("nothing was written"), and the old group drops the trial. The
# trial is done once, by the second group, with rows equal (keys exactly, values to 1e-10) to one
# uninterrupted `istar train` of it: no row lost, none duplicated, none overwritten.
#
# Needs root (ip netns, veth); exit 77, skipped, otherwise.
#
#   partition_test.sh ISTAR REPO_ROOT MPIEXEC [MPIEXEC_FLAGS...]
set -u
istar=${1:?usage: partition_test.sh ISTAR REPO_ROOT MPIEXEC [FLAGS...]}
root=${2:?usage: partition_test.sh ISTAR REPO_ROOT MPIEXEC [FLAGS...]}
mpiexec=${3:?usage: partition_test.sh ISTAR REPO_ROOT MPIEXEC [FLAGS...]}
shift 3
mpiflags=("$@")
work=$(mktemp -d)
source "$(dirname "$0")/sessions.sh"
source "$(dirname "$0")/expect.sh"
source "$(dirname "$0")/rows.sh"
cd "$work" || exit 2

# The group's host: namespace istar-part-PID, its end of the link 10.213.X.2, the coordinator's
# 10.213.X.1 (X from the PID, so that two runs do not meet).
ns=istar-part-$$
outer=ipo$$
inner=ipi$$
subnet=10.213.$(($$ % 250))
if [ "$(id -u)" -ne 0 ] || ! ip netns add "$ns" 2> /dev/null; then
  echo "partition_test: needs root to make a network namespace (ip netns add): skipped"
  exit 77
fi
at_cleanup ip netns delete "$ns"  # and with it the veth pair
ip link add "$outer" type veth peer name "$inner" netns "$ns" || exit 2
ip addr add "$subnet.1/30" dev "$outer" && ip link set "$outer" up || exit 2
ip -n "$ns" addr add "$subnet.2/30" dev "$inner" && ip -n "$ns" link set "$inner" up &&
  ip -n "$ns" link set lo up || exit 2

sql() { "$istar" sql --db "$1" --format csv "$2" | tail -n +2 | tr '\n' ' '; }
openssl rand -hex 32 > token
chmod 600 token
demo_trial partition 4

# The coordinator listens on its end of the link only; the group in the namespace reaches it
# there, the group outside too (a local address). Plaintext on a link the test owns.
start coordinator.log "$istar" coordinator --db partition.db --token-file token \
  --address-file address --lease-ttl 3 --listen "$subnet.1:0" --allow-remote --insecure-plaintext
coordinator_pid=$started
wait_for 30 test -s address || { echo "the coordinator did not start:"; cat coordinator.log; exit 2; }
address=$(cat address)
expect the_namespace_reaches_the_coordinator 0 '' -- \
  ip netns exec "$ns" timeout 5 bash -c "exec 3<> /dev/tcp/$subnet.1/${address##*:}"
"$istar" sweep submit sweep.yaml --coordinator "$address" --token-file token > /dev/null
group() {  # NAME [ip netns exec NS]: a worker group of 2 ranks; sets $group_pid
  local name=$1
  shift
  start "$name.log" "$@" "$mpiexec" -n 2 "${mpiflags[@]}" "$istar" worker --coordinator "$address" \
    --token-file token --checkpoints checkpoints --worker-id "$name" --float64 --batch-rows 10 \
    --exit-when-idle 5
  group_pid=$started
}

group A ip netns exec "$ns"
a_pid=$group_pid
expect a_checkpointed_epoch_1 0 '' -- wait_for 180 test -f "checkpoints/$trial/epoch-1/state.json"
expect a_reports_through_the_link 0 '^[1-9][0-9]* $' -- sql partition.db \
  "SELECT count(*) FROM metrics"
ip link set "$outer" down  # the partition: nothing crosses the link either way
expect a_lease_expires 0 '' -- wait_for 30 bash -c \
  "'$istar' sql --db partition.db --format csv \"SELECT outcome FROM attempts WHERE worker_id = 'A'\" | grep -qx expired"
expect a_trains_on_cut_off 0 '' -- kill -0 "$a_pid"
group B
b_pid=$group_pid
expect b_resumes_from_a_checkpoint 0 '' -- \
  wait_for 120 grep -qE 'resuming trial .* at step [0-9]+ \((epoch [0-9] done|inside it)\)' B.log
ip link set "$outer" up  # the link returns: A's late reports reach the coordinator
expect a_late_report_refused_by_fencing 0 '' -- wait_for 120 grep -qE \
  "lease refused: .*fencing token 1 is not the current lease \(the trial is leased with fencing token 2\).*nothing was written|report refused: .*fencing token 1 is not the current lease" A.log
# Dropped when the heartbeat hears it first, or when A's rows or its end are refused (it trained
# on while cut off, and which call crosses the returned link first is a race).
expect a_drops_the_trial 0 '' -- wait_for 60 grep -qE "trial ${trial:0:12} .*lease lost, dropped" A.log
expect a_goes_idle_and_exits 0 '' -- wait_for 120 gone "$a_pid"
expect b_finishes 0 '' -- wait_for 300 gone "$b_pid"
expect a_expired_b_done 0 '^A,expired B,done $' -- \
  sql partition.db "SELECT worker_id, outcome FROM attempts ORDER BY attempt"
expect trial_done_once 0 '^done,2 $' -- sql partition.db "SELECT status, attempts FROM trials"
# A wrote no checkpoint while cut off: only the epochs' (B's, and A's first) are there.
expect no_checkpoint_from_the_cut_off_group 0 '^epoch-1 epoch-2 epoch-3 epoch-4 $' -- bash -c \
  "for d in checkpoints/$trial/*; do printf '%s ' \"\$(basename \"\$d\")\"; done"
expect every_row_once 0 '^([0-9]+),\1 $' -- sql partition.db \
  "SELECT count(*), count(DISTINCT step || '/' || split || '/' || name) FROM metrics"
expect rows_equal_an_uninterrupted_run 0 '^same [0-9]{3,} rows$' -- \
  same_rows reference.db "$trial" partition.db "$trial"
expect integrity_ok 0 '^ok $' -- sql partition.db "PRAGMA integrity_check"
kill -TERM "$coordinator_pid"
wait_for 30 gone "$coordinator_pid"
finish partition_test

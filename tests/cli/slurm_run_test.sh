#!/usr/bin/env bash
# `istar run --launcher slurm` against a real Slurm (a one-node cluster from Debian's packages,
# deploy/slurm/local-slurm.sh), as a researcher runs it on a login node (docs/deploy.md):
#
#   1. --dry-run prints the batch script and submits nothing; bad launch settings fail before
#      anything is submitted, naming the field.
#   2. A 6-trial sweep, 2 worker groups of 2 ranks (each `srun --mpi=pmix` in a job array): all
#      done, rows equal (keys exactly, values to 1e-10) to those of a local `istar run`.
#   3. With the coordinator as a Slurm job of its own: `scancel --signal=TERM` of a running
#      group (a preemption) hands its trial back and a resubmitted group resumes it from the
#      preemption checkpoint; the other group's ranks SIGKILLed (as by a node's death: `scancel`
#      itself sends SIGTERM first, a preemption again) leave its lease to expire
#      and another group finishes the trial; the time limit's warning (--signal=B:TERM, to the
#      batch script alone) makes the resuming group hand the trial back once more. At the end
#      no job is left in squeue.
#
# Exit 77 (ctest: skipped) with the reason where Slurm cannot run here.
#
#   slurm_run_test.sh ISTAR REPO_ROOT
set -u
istar=${1:?usage: slurm_run_test.sh ISTAR REPO_ROOT}
root=${2:?usage: slurm_run_test.sh ISTAR REPO_ROOT}
work=$(mktemp -d)
source "$(dirname "$0")/slurm.sh"
start_local_slurm
source "$(dirname "$0")/expect.sh"
source "$(dirname "$0")/rows.sh"
cd "$work" || exit 2
sql() { "$istar" sql --db "$1" --format csv "$2" | tail -n +2 | tr '\n' ' '; }
jobs_named() { squeue -h -n "$1" -o %i | sort | tr '\n' ' '; }

"$istar" demo-data demo > /dev/null || exit 2
cat > six.yaml << 'YAML'
name: slurm-six
models:
  tiny-bert: ./demo/model
tasks:
  sst2: ./demo/sst2
training:
  max_seq_length: 32
  isotropy_every_steps: 10
  shrinkage_points: 4000
  ranks_per_trial: 2
grid:
  batch_size: [32]
  epochs: [2]
  learning_rate: [2e-3]
  seed: [0, 1]
  regularizers:
    - baseline
    - istar: {lambda: [-0.001, 0.001], zeta: [0.2]}
launch:
  slurm:
    time: '30'
    cpus_per_rank: 1
YAML
slurm_run=("$istar" run --launcher slurm --listen 127.0.0.1:0 --workers 2 --float64)

# --- 1. Nothing is submitted for a dry run or for bad settings ---------------------------------
expect dry_run_prints_the_script 0 'srun --mpi=pmix --kill-on-bad-exit=1 .*istar worker --coordinator-file [^ ]*/istar-slurm/address --token-file [^ ]*/istar-slurm/token' -- \
  "${slurm_run[@]}" six.yaml --dry-run
expect dry_run_directives 0 '#SBATCH --ntasks=2.*#SBATCH --time=30.*#SBATCH --requeue.*#SBATCH --signal=B:TERM@120' -- \
  bash -c "'$istar' run six.yaml --launcher slurm --listen 127.0.0.1:0 --dry-run | tr '\n' ' '"
expect dry_run_coordinator_job 0 'exec [^ ]*istar coordinator --db [^ ]*/results.db --listen 0.0.0.0:0 .*--allow-remote --insecure-plaintext' -- \
  "$istar" run six.yaml --launcher slurm --dry-run --coordinator-job --insecure-plaintext
expect plaintext_to_the_network_refused 2 'without TLS, and the token would cross the network in clear' -- \
  "$istar" run six.yaml --launcher slurm --dry-run --coordinator-job
expect bad_memory_names_the_field 2 'six\.yaml:[0-9]+:[0-9]+: launch\.slurm\.mem: expected memory per node' -- \
  "${slurm_run[@]}" six.yaml --set launch.slurm.mem=64GB
expect owned_option_refused 2 'launch\.slurm\.extra_args\[0\]: --ntasks is set by istar run itself' -- \
  "${slurm_run[@]}" six.yaml --set 'launch.slurm.extra_args=[--ntasks=4]'
expect dry_run_needs_slurm 2 '--coordinator-job and --dry-run need --launcher slurm' -- \
  "$istar" run six.yaml --dry-run
expect nothing_submitted 0 '^$' -- squeue -h
expect nothing_written 1 '' -- test -e results.db -o -e istar-slurm/token

# --- 2. Six trials on two groups of two ranks, as a local run ----------------------------------
expect local_run 0 'istar  *[+-]?0\.' -- \
  "$istar" run six.yaml --workers 2 --float64 --db local.db --logs local-logs \
  --checkpoints local-ckpt
expect slurm_run 0 '2 worker group\(s\) of 2 rank\(s\) as Slurm jobs' -- \
  timeout 300 "${slurm_run[@]}" six.yaml --db slurm.db --logs slurm-logs --checkpoints slurm-ckpt
expect all_six_done 0 '^done,6 $' -- sql slurm.db "SELECT status, count(*) FROM trials GROUP BY status"
expect ran_as_slurm_groups 0 '^2 $' -- \
  sql slurm.db "SELECT count(DISTINCT worker_id) FROM attempts WHERE worker_id LIKE 'slurm-%.0'"
for t in $(sql slurm.db "SELECT id FROM trials"); do
  expect "rows_equal_local_${t:0:8}" 0 '^same [0-9]{2,} rows$' -- same_rows local.db "$t" slurm.db "$t"
done
expect token_removed_after_the_run 1 '' -- test -e istar-slurm/token
expect no_job_left_after_the_run 0 '^$' -- squeue -h

# --- 3. A preemption and a killed group, the coordinator a job of its own ----------------------
sed 's/^name: slurm-six/name: faults/; s/seed: \[0, 1\]/seed: [0]/; s/epochs: \[2\]/epochs: [16]/;
     s/    - istar: {lambda: \[-0.001, 0.001\], zeta: \[0.2\]}/    - istar: {lambda: [-0.001], zeta: [0.2]}/' \
  six.yaml > faults.yaml
setsid "${slurm_run[@]}" faults.yaml --coordinator-job --db faults.db --logs faults-logs \
  --checkpoints faults-ckpt --lease-ttl 3 --restart-delay 1 > faults.out 2>&1 &
run_pid=$!
# Both groups train (a progress line of each group's log past step 50).
training() { [ "$(grep -lE '^step ([5-9][0-9]|[1-9][0-9]{2,})/' faults-logs/worker-*.log 2> /dev/null | wc -l)" -ge 2 ]; }
expect both_groups_train 0 '' -- wait_for 180 training
expect coordinator_is_a_job 0 '^[0-9]+ $' -- jobs_named istar-faults-coordinator
read -r preempted killed <<< "$(jobs_named istar-faults-workers)"
scancel --signal=TERM "$preempted"
expect preempted_group_hands_back 0 '' -- \
  wait_for 60 grep -q 'stopped after [0-9]* steps' "faults-logs/worker-$preempted.log"
# A node's death: its ranks SIGKILLed, nothing handed back. (`scancel`, with any signal, cancels
# the job the way Slurm does: SIGTERM first, SIGKILL only after KillWait, so the ranks would
# hand their trial back as in a preemption.)
pkill -KILL -f -- "--worker-id slurm-$killed\."
stopped_at=$(grep -oE 'stopped after [0-9]+ steps' "faults-logs/worker-$preempted.log" | grep -oE '[0-9]+')
# At the step the group stopped at: inside an epoch, or at its end when the stop came right after
# an epoch checkpoint (the resume then says "(epoch k done)").
resumed_log() { grep -lE "from its checkpoint at step $stopped_at \(epoch [0-9]+(, inside it| done)\)" faults-logs/worker-*.log; }
expect resumed_from_the_preemption_checkpoint 0 '' -- wait_for 120 resumed_log
# The time limit's warning, --signal=B:TERM@N, reaches the batch script alone: it passes TERM on
# to srun and so to the ranks, which hand the trial back again.
resumer=$(resumed_log | head -1 | sed -E 's/.*worker-([0-9_]+)\.log/\1/')
scancel --batch --signal=TERM "$resumer"
expect batch_signal_hands_back 0 '' -- \
  wait_for 60 grep -q 'stopped after [0-9]* steps' "faults-logs/worker-$resumer.log"
stopped_again=$(grep -oE 'stopped after [0-9]+ steps' "faults-logs/worker-$resumer.log" | grep -oE '[0-9]+')
expect run_finishes 0 '' -- wait_for 300 bash -c "! kill -0 $run_pid"
wait "$run_pid"
expect run_exit_code 0 '^0$' -- echo "$?"
expect groups_resubmitted 0 'worker group [01] \(job [0-9_]+\) ended; resubmitting' -- cat faults.out
expect resumed_again 0 '' -- \
  grep -qE "from its checkpoint at step $stopped_again \(epoch [0-9]+(, inside it| done)\)" faults-logs/worker-*.log
# (as a set: the first two attempts start in either order)
outcomes=$(printf '%s\n' "slurm-$preempted.0,abandoned" "slurm-$killed.0,expired" \
  "slurm-$resumer.0,abandoned" | sort | tr '\n' ' ')
expect preempted_killed_signalled 0 "^$outcomes$" -- bash -c "'$istar' sql --db faults.db --format csv \
  \"SELECT worker_id, outcome FROM attempts WHERE outcome != 'done'\" | tail -n +2 | sort | tr '\n' ' '"
expect both_trials_done 0 '^done,2 $' -- sql faults.db "SELECT status, count(*) FROM trials GROUP BY status"
expect integrity_ok 0 '^ok $' -- sql faults.db "PRAGMA integrity_check"
expect no_job_left 0 '^$' -- squeue -h
finish slurm_run_test

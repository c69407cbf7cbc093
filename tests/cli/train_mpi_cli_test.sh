#!/usr/bin/env bash
# `mpirun -np 2 istar train` as a user runs it: the same trial trained by one process and by a
# worker group of two MPI ranks writes the same rows (float64, a dropout-free copy of the demo
# model: with dropout the runs would draw different masks), and errors under mpirun are reported
# once, with the exit code of a one-process run.
#
#   train_mpi_cli_test.sh ISTAR REPO_ROOT MPIEXEC [MPIEXEC_FLAGS...]
set -u
istar=${1:?usage: train_mpi_cli_test.sh ISTAR REPO_ROOT MPIEXEC [FLAGS...]}
root=${2:?usage: train_mpi_cli_test.sh ISTAR REPO_ROOT MPIEXEC [FLAGS...]}
mpiexec=${3:?usage: train_mpi_cli_test.sh ISTAR REPO_ROOT MPIEXEC [FLAGS...]}
shift 3
mpiflags=("$@")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/expect.sh"
source "$(dirname "$0")/rows.sh"
cd "$work" || exit 2
config="$root/examples/train-demo.yaml"

dropout_free_demo

expect one_process 0 'done after 126 steps, accuracy' -- \
  "$istar" train "$config" "${settings[@]}" --db one.db --checkpoints one-checkpoints
expect two_ranks 0 'done after 126 steps on 2 ranks, accuracy' -- \
  "$mpiexec" -n 2 "${mpiflags[@]}" "$istar" train "$config" "${settings[@]}" --db two.db \
  --checkpoints two-checkpoints
expect rank0_checkpoints_only 0 '^epoch-1 epoch-2 $' -- \
  bash -c 'for d in two-checkpoints/*/*; do printf "%s " "$(basename "$d")"; done'

expect same_rows 0 '^same [0-9]{3,} rows$' -- same_rows one.db "" two.db ""
# Gradient accumulation (3 micro-batches of each rank's 16 rows) is the same trial, with the same
# rows: I-STAR's point cloud stays the whole step's (Note [Accumulation with a global point cloud]).
expect two_ranks_accumulated 0 'done after 126 steps on 2 ranks, accuracy' -- \
  "$mpiexec" -n 2 "${mpiflags[@]}" "$istar" train "$config" "${settings[@]}" --db acc.db \
  --checkpoints acc-checkpoints --set training.gradient_accumulation_steps=3
expect same_rows_accumulated 0 '^same [0-9]{3,} rows$' -- same_rows one.db "" acc.db ""
expect same_trial_status 0 '^done$' -- \
  "$istar" sql --db two.db --format csv "SELECT status FROM trials" 

# Errors: every rank fails alike and rank 0 alone reports, with a one-process run's exit code.
count_reports() {
  local out
  out=$("$@" 2>&1)
  local rc=$?
  local reports
  reports=$(grep '^istar train:' <<<"$out" | grep -v '^istar train: note:')
  echo "exit $rc, $(grep -c . <<<"$reports") report(s): $reports"
}
expect bad_config_reported_once 0 '^exit 2, 1 report\(s\): .*training\.bogus: unknown key' -- \
  count_reports "$mpiexec" -n 2 "${mpiflags[@]}" "$istar" train "$config" --set training.bogus=1
expect done_trial_reported_once 0 '^exit 2, 1 report\(s\): istar train: rank 0: trial [0-9a-f]+ is already done' -- \
  count_reports "$mpiexec" -n 2 "${mpiflags[@]}" "$istar" train "$config" "${settings[@]}" \
  --db one.db --checkpoints one-checkpoints
# A GPU group on a machine without a GPU: refused by every rank before training, reported once
# by rank 0, naming the rank and its host, exit 2 like any bad setting (no crash, no abort).
if ! command -v nvidia-smi >/dev/null 2>&1; then
  expect cuda_group_without_gpu 0 "^exit 2, 1 report\(s\): istar train: rank 0: rank 0 on host $(hostname) is to train on cuda but its LibTorch sees no GPU" -- \
    count_reports "$mpiexec" -n 2 "${mpiflags[@]}" "$istar" train "$config" "${settings[@]}" \
    --db gpu.db --checkpoints gpu-checkpoints --device cuda
  expect cuda_group_left_no_database 0 '^absent$' -- \
    bash -c '[ -e gpu.db ] && echo present || echo absent'
fi
finish train_mpi_cli_test

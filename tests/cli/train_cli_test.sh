#!/usr/bin/env bash
# `istar demo-data` and `istar train` as a user runs them: generated data, a tiny random BERT, one
# trial written to a local database that `istar compare` then reads.
set -u
istar=${1:?usage: train_cli_test.sh ISTAR_BINARY REPO_ROOT}
root=${2:?usage: train_cli_test.sh ISTAR_BINARY REPO_ROOT}
work=$(mktemp -d)
trap 'umount "$work/full" 2> /dev/null; rm -rf "$work"' EXIT
source "$(dirname "$0")/expect.sh"
cd "$work" || exit 2
config="$root/examples/train-demo.yaml"

expect demo_data 0 'tiny random BERT' -- "$istar" demo-data demo
# Above chance, and below 1: a tenth of the demo's labels are flipped (`istar demo-data`).
expect train_demo 0 'done after [0-9]+ steps, accuracy 0\.[6-9]' -- \
  "$istar" train "$config" --db demo.db --checkpoints ck --no-progress
expect compare_standalone 0 'tiny-bert +sst2 +accuracy +0\.[6-9]' -- "$istar" compare --db demo.db
expect isotropy_rows 0 '^[1-9][0-9]*$' -- \
  "$istar" sql --db demo.db "SELECT count(*) AS n FROM isotropy WHERE layer = -1" --format csv
expect done_trial_not_rerun 2 'already done' -- \
  "$istar" train "$config" --db demo.db --checkpoints ck --no-progress
expect diverged 1 'diverged' -- "$istar" train "$config" --db diverged.db --checkpoints ck2 \
  --set grid.learning_rate=1e6 --no-progress
expect unknown_override 2 'training\.learning_rate: unknown key' -- \
  "$istar" train "$config" --db x.db --set training.learning_rate=1
# Precision and device are checked before anything is loaded (Note [Precision], trainer.cc).
expect bf16_needs_a_gpu 2 'training\.precision: "bf16" is autocast on a GPU' -- \
  "$istar" train "$config" --db x.db --set training.precision=bf16
expect fp16_is_refused 2 'training\.precision: "fp16" needs loss scaling' -- \
  "$istar" train "$config" --db x.db --set training.precision=fp16 --device cpu
expect unknown_device 2 'device: expected cpu, cuda, cuda:N or auto, got "tpu"' -- \
  "$istar" train "$config" --db x.db --device tpu
# Without a GPU (this machine, CI), cuda is refused before anything is loaded, naming the host.
if ! command -v nvidia-smi >/dev/null 2>&1; then
  expect cuda_without_gpu 2 "rank 0 on host $(hostname) is to train on cuda but its LibTorch sees no GPU" -- \
    "$istar" train "$config" --db x.db --device cuda
  expect cuda_index_without_gpu 2 'sees no GPU' -- "$istar" train "$config" --db x.db --device cuda:1
fi
# A full disk while writing a checkpoint (a 200 KiB tmpfs, as root): a clear error, exit 1, the
# trial failed with it, and the half-written checkpoint removed. (LibTorch's own file writer
# threw from a destructor here: std::terminate; Note [Archives through our own file].)
mkdir -p "$work/full"
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=200k tmpfs "$work/full" 2> /dev/null; then
  expect checkpoint_disk_full 1 'epoch-1\.tmp/optimizer\.pt: cannot write the checkpoint: No space left on device' -- \
    "$istar" train "$config" --db full.db --checkpoints "$work/full/ckpt" --no-progress
  expect disk_full_trial_failed 0 'failed *RESOURCE_EXHAUSTED: .*No space left on device' -- \
    "$istar" sql --db full.db "SELECT status, error FROM trials"
  expect half_written_checkpoint_removed 0 '^$' -- find "$work/full/ckpt" -name '*.tmp'
  umount "$work/full"
else
  echo "train_cli_test: the disk-full case needs root (mount -t tmpfs): not run"
fi
finish train_cli_test

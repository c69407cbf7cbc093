#!/usr/bin/env bash
# Worker groups under a real Slurm, started the way a cluster starts them: a one-node Slurm from
# Debian's packages (deploy/slurm/local-slurm.sh), then `srun --mpi=pmix -n 2 istar train` as a
# job step and `sbatch --wait` of a batch script that does the same. Each group trains the same
# trial with the same rows as one process (float64, a dropout-free copy of the demo model), and
# no job and no Slurm daemon is left afterwards. Exit 77 (ctest: skipped) with the reason where
# Slurm cannot run: not root, its packages missing, or daemons that do not come up.
#
#   slurm_train_test.sh ISTAR REPO_ROOT
set -u
istar=${1:?usage: slurm_train_test.sh ISTAR REPO_ROOT}
root=${2:?usage: slurm_train_test.sh ISTAR REPO_ROOT}
work=$(mktemp -d)
source "$(dirname "$0")/slurm.sh"
start_local_slurm
source "$(dirname "$0")/expect.sh"
source "$(dirname "$0")/rows.sh"
cd "$work" || exit 2
config="$root/examples/train-demo.yaml"

dropout_free_demo

expect one_process 0 'done after 126 steps, accuracy' -- \
  "$istar" train "$config" "${settings[@]}" --db one.db --checkpoints one-checkpoints
expect srun_step 0 'done after 126 steps on 2 ranks, accuracy' -- \
  timeout 180 srun --mpi=pmix -n 2 "$istar" train "$config" "${settings[@]}" --db srun.db \
  --checkpoints srun-checkpoints
expect srun_same_rows 0 '^same [0-9]{3,} rows$' -- same_rows one.db "" srun.db ""

cat > group.sbatch <<SBATCH
#!/bin/bash
#SBATCH --ntasks=2
#SBATCH --output=$work/group-%j.out
srun --mpi=pmix "$istar" train "$config" ${settings[*]} --db sbatch.db --checkpoints sbatch-checkpoints
SBATCH
expect sbatch_job 0 'Submitted batch job [0-9]+' -- \
  timeout 180 sbatch --wait --chdir "$work" group.sbatch
expect sbatch_output 0 'done after 126 steps on 2 ranks' -- bash -c "cat $work/group-*.out"
expect sbatch_same_rows 0 '^same [0-9]{3,} rows$' -- same_rows one.db "" sbatch.db ""
expect no_job_left 0 '^$' -- squeue -h
finish slurm_train_test

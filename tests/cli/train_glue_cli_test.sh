#!/usr/bin/env bash
# One-trial demo runs of the GLUE tasks from the command line: `istar demo-data` writes them in
# GLUE's formats, `istar train` fine-tunes STS-B (a regression head) and MNLI (two evaluation
# splits), and `istar compare` ranks each by its primary metric (docs/tasks.md).
set -u
istar=${1:?usage: train_glue_cli_test.sh ISTAR_BINARY}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/expect.sh"
cd "$work" || exit 2

# A one-trial sweep of task $1 on the demo folders: the tiny random BERT, 1 epoch.
write_config() {
  cat > "$1.yaml" <<YAML
name: demo-$1
models:
  tiny-bert: ./demo/model
tasks:
  $1: ./demo/$1
training:
  max_seq_length: 32
  isotropy_every_steps: 10
grid:
  batch_size: [32]
  epochs: [1]
  learning_rate: [2e-3]
  seed: [0]
  regularizers:
    - istar: {lambda: [-0.001], zeta: [0.2]}
YAML
}

expect demo_data 0 'stsb, mnli\} \(GLUE formats\)' -- "$istar" demo-data demo --seed 3
expect mnli_files 0 'dev_matched.tsv' -- ls demo/mnli
for task in stsb mnli; do write_config "$task"; done
# 2,000 training rows at batch 32: 63 steps.
expect train_stsb 0 'done after 63 steps, pearson -?[0-9.e-]+, spearman -?[0-9.e-]+$' -- \
  "$istar" train stsb.yaml --db demo.db --no-progress
expect train_mnli 0 'done after 63 steps, accuracy [0-9.e-]+, validation_mismatched accuracy [0-9.e-]+$' -- \
  "$istar" train mnli.yaml --db demo.db --no-progress
expect compare_primary_metrics 0 'mnli +accuracy.*stsb +pearson|stsb +pearson.*mnli +accuracy' -- \
  bash -c "\"$istar\" compare --db demo.db | tr '\n' ' '"
expect final_result_splits 0 'validation_mismatched,accuracy' -- \
  "$istar" sql --db demo.db "SELECT split, name FROM final_results ORDER BY split DESC" --format csv
expect compare_mismatched 0 'mnli +accuracy' -- \
  "$istar" compare --db demo.db --split validation_mismatched
finish train_glue_cli_test

#!/usr/bin/env bash
# examples/paper.yaml's protocol as a user would try it before booking GPUs: the file as it is,
# shrunk with --set to the demo model and data (one epoch, one seed, a light I-STAR lambda, 32
# tokens, fp32 on a CPU), trained by `mpirun -n 2 istar train` so that the per-rank isotropy
# scope has two ranks. Every measure of the protocol must be in the database afterwards: the
# held-out selection and report splits, isotropy rows of every layer and of their union (layer
# -1), the final measures of the dev set, and a comparison chosen on one split and reported on
# the other (docs/training.md, "Options for the published behaviour"; docs/database.md).
#
#   paper_protocol_test.sh ISTAR REPO_ROOT MPIEXEC [MPIEXEC_FLAGS...]
set -u
istar=${1:?usage: paper_protocol_test.sh ISTAR REPO_ROOT MPIEXEC [FLAGS...]}
root=${2:?usage: paper_protocol_test.sh ISTAR REPO_ROOT MPIEXEC [FLAGS...]}
mpiexec=${3:?usage: paper_protocol_test.sh ISTAR REPO_ROOT MPIEXEC [FLAGS...]}
shift 3
mpiflags=("$@")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/expect.sh"
cd "$work" || exit 2
config="$root/examples/paper.yaml"

# The file's own protocol options (constant rate, no clipping, padding in the cloud, per-rank
# scope, shuffled S0 sample, evaluation zeta 0.75, half the dev set held out) stay as written;
# only the sizes and the paths change.
tiny=(--set 'models={tiny-bert: ./demo/model}' --set 'tasks={sst2: ./demo/sst2}'
      --set training.max_seq_length=32 --set training.precision=fp32
      --set training.shrinkage_points=2000 --set training.isotropy_every_steps=10
      --set training.ranks_per_trial=2
      --set grid.epochs=1 --set grid.learning_rate=2e-3 --set grid.seed=0)

expect demo_data 0 'tiny random BERT' -- "$istar" demo-data demo
expect paper_istar 0 'done after [0-9]+ steps on 2 ranks, accuracy' -- \
  "$mpiexec" -n 2 "${mpiflags[@]}" "$istar" train "$config" "${tiny[@]}" --no-progress \
  --db paper.db --checkpoints ck --set 'grid.regularizers=[{istar: {lambda: [-0.001], zeta: [0.2]}}]'
# The file's CosReg entry as written: lambda 1 on the last layer, which is layer 2 of this model.
expect paper_cosreg 0 'done after [0-9]+ steps on 2 ranks, accuracy' -- \
  "$mpiexec" -n 2 "${mpiflags[@]}" "$istar" train "$config" "${tiny[@]}" --no-progress \
  --db paper.db --checkpoints ck \
  --set 'grid.regularizers=[{cosreg: {lambda: [1], regularizer_layers: [last]}}]'
expect paper_baseline 0 'done after [0-9]+ steps on 2 ranks, accuracy' -- \
  "$mpiexec" -n 2 "${mpiflags[@]}" "$istar" train "$config" "${tiny[@]}" --no-progress \
  --db paper.db --checkpoints ck --set 'grid.regularizers=[baseline]'

sql() { "$istar" sql --db paper.db --format csv "$1"; }

# The options reached the trials' canonical settings (and so their ids).
expect options_in_canonical_json 0 '^3$' -- sql \
  "SELECT count(*) FROM trials WHERE canonical_json LIKE '%\"lr_schedule\":\"constant\"%'
     AND canonical_json LIKE '%\"isotropy_scope\":\"per_rank\"%'
     AND canonical_json LIKE '%\"point_cloud_padding\":\"include\"%'
     AND canonical_json LIKE '%\"selection\":{%' AND status = 'done'"
expect cosreg_reads_the_last_layer 0 '^last$' -- sql \
  "SELECT json_extract(canonical_json, '$.regularizer_layers[0]') FROM trials
     WHERE regularizer = 'cosreg'"
# Every trial logs the same isotropy rows: layers 1 and 2 and their union, -1, at the same steps.
expect isotropy_layers 0 '^-1 1 2$' -- sql \
  "SELECT group_concat(layer, ' ') FROM (SELECT DISTINCT layer FROM isotropy ORDER BY layer)"
expect every_trial_every_layer 0 '^3$' -- sql \
  "SELECT count(*) FROM (SELECT count(DISTINCT layer) AS n FROM isotropy GROUP BY trial_id)
     WHERE n = 3"
expect same_isotropy_rows 0 '^1$' -- sql \
  "SELECT count(DISTINCT n) FROM (SELECT count(*) AS n FROM isotropy GROUP BY trial_id)"
expect isotropy_values_in_range 0 '^0$' -- sql \
  "SELECT count(*) FROM isotropy WHERE NOT (isoscore BETWEEN 0 AND 1)
     OR NOT (isoscore_star BETWEEN 0 AND 1) OR NOT (avg_cosine BETWEEN -1 AND 1)"
# The dev set: scored whole, and on its two disjoint halves.
expect eval_splits 0 '^report selection validation,3$' -- sql \
  "SELECT group_concat(split, ' '), max(n) FROM (SELECT split, count(DISTINCT trial_id) AS n
     FROM final_results WHERE name = 'accuracy' GROUP BY split ORDER BY split)"
# The paper's final measures, for every trial.
for measure in cls_isoscore_star_layer_1 cls_isoscore_star_layer_2 cls_isoscore_star \
               token_isoscore cls_twonn avg_cosine_last_layer; do
  expect "final_$measure" 0 '^3$' -- sql \
    "SELECT count(*) FROM final_results WHERE split = 'validation' AND name = '$measure'
       AND value = value"
done
# compare chooses on the selection half and reports the other, and says so.
expect compare_held_out 0 'selection' -- \
  "$istar" compare --db paper.db --select-on selection --split report
expect compare_isotropy 0 'cls_isoscore_star' -- \
  "$istar" compare --db paper.db --metric cls_isoscore_star --select-metric accuracy
finish paper_protocol_test

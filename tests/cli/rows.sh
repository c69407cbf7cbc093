# Sourced by the command-line test scripts that compare the rows two runs stored (tests/cli/
# train_mpi_cli_test.sh, slurm_train_test.sh, worker_cli_test.sh). Needs $istar.
#
#   dump_rows DB [TRIAL]           # every metric, isotropy and final-result row (of TRIAL, or of
#                                  # all trials), keyed and sorted: kind, step, name, value (CSV)
#   same_rows DB_A TRIAL_A DB_B TRIAL_B [keys]
#                                  # prints "same N rows" and succeeds when both have the same
#                                  # keys and (unless "keys") values equal to 1e-10 relative
#   demo_trial NAME EPOCHS         # in the current folder: the demo data (demo/) and sweep.yaml,
#                                  # one I-STAR trial (with S0) of the demo model on the demo SST-2
#                                  # for groups of 2 ranks; then that trial trained once,
#                                  # uninterrupted, by `mpiexec -n 2 istar train` into reference.db
#                                  # (float64). Sets $trial. Needs $mpiexec and $mpiflags
#   dropout_free_demo              # in the current folder: the demo data, and model0/, the demo
#                                  # model without dropout (runs on other ranks draw other masks);
#                                  # sets `settings` to train it for 2 epochs in float64

dump_rows() {
  local where=""
  [ -n "${2:-}" ] && where="WHERE trial_id = '$2'"
  "$istar" sql --db "$1" --format csv \
    "SELECT 'm', step, split || '/' || name, value FROM metrics $where
     UNION ALL SELECT 'i', step, layer || '/star', isoscore_star FROM isotropy $where
     UNION ALL SELECT 'i', step, layer || '/iso', isoscore FROM isotropy $where
     UNION ALL SELECT 'i', step, layer || '/cos', avg_cosine FROM isotropy $where
     UNION ALL SELECT 'f', 0, split || '/' || name, value FROM final_results $where
     ORDER BY 1, 2, 3"
}

same_rows() {
  local a b
  a=$(dump_rows "$1" "$2")
  b=$(dump_rows "$3" "$4")
  [ "$(wc -l <<<"$a")" -eq "$(wc -l <<<"$b")" ] || { echo "row counts differ"; return 1; }
  paste -d, <(echo "$a") <(echo "$b") | awk -F, -v keys_only="${5:-}" '
    NR == 1 { next }
    $1 != $5 || $2 != $6 || $3 != $7 { print "different keys: " $0; bad = 1; exit }
    keys_only == "" { d = $4 - $8; d = d < 0 ? -d : d; a = $4 < 0 ? -$4 : $4;
      if (d > 1e-10 * (a > 1 ? a : 1)) { print "different values: " $0; bad = 1 } }
    { n++ }
    END { if (!bad) print "same " n " rows"; exit bad }'
}

dropout_free_demo() {
  "$istar" demo-data demo > /dev/null || exit 2
  cp -r demo/model model0
  sed -i -E \
    's/"(hidden_dropout_prob|attention_probs_dropout_prob|classifier_dropout)": [0-9.]+/"\1": 0.0/' \
    model0/config.json
  settings=(--set models.tiny-bert=./model0 --set grid.epochs=2 --no-progress --float64)
}

demo_trial() {
  "$istar" demo-data demo > /dev/null || exit 2
  cat > sweep.yaml << YAML
name: $1
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
  batch_size: [8]
  epochs: [$2]
  learning_rate: [2e-3]
  seed: [0]
  regularizers:
    - istar: {lambda: [-0.001], zeta: [0.2]}
YAML
  "$mpiexec" -n 2 "${mpiflags[@]}" "$istar" train sweep.yaml --db reference.db --float64 \
    --checkpoints reference-checkpoints --no-progress > reference.log 2>&1 ||
    { echo "reference run failed:"; cat reference.log; exit 2; }
  trial=$("$istar" sql --db reference.db --format csv "SELECT id FROM trials" | tail -1)
}

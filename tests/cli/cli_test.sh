#!/usr/bin/env bash
# The `istar` binary as a user runs it: each case checks an exit code and what was printed.
set -u
istar=${1:?usage: cli_test.sh ISTAR_BINARY SHARED_DATA_DIR}
data=${2:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/expect.sh"

expect help 0 'isoscore' -- "$istar" --help
expect version 0 '^istar [0-9]+\.[0-9]+\.[0-9]+' -- "$istar" --version
expect isoscore_help 0 '--zeta' -- "$istar" isoscore --help
expect no_command 2 'A subcommand is required|subcommand' -- "$istar"
expect unknown_flag 2 'unknown|extras|not expected' -- "$istar" isoscore x.npy --frobnicate

# A generated cloud, isotropic on 64 of 128 coordinates, with a large mean: IsoScore near
# (64 - 1) / (128 - 1) = 0.496.
expect generate 0 'population IsoScore .* = 0\.496' -- \
  "$istar" generate "$work/cloud.npy" --points 20000 --dims 128 --rank 64 --offset 500 --seed 3
expect isoscore_generated 0 'IsoScore\* +0\.49' -- "$istar" isoscore "$work/cloud.npy"
expect isoscore_json 0 '"isoscore_star": 0\.49' -- "$istar" isoscore "$work/cloud.npy" --json --cosine

# CSV: three points on the line x = y have IsoScore 0; a hand-computed cloud: the points
# (+-1, 0), (0, +-2) have covariance diag(2/3, 8/3): PR = (10/3)^2 / (68/9) = 100/68, so
# IsoScore = 32/68 = 0.4705882353. Average cosine: pairs of opposite points give -1, the other 8
# ordered pairs 0: -4 / 12 = -1/3.
printf 'x,y\n1,1\n2,2\n3,3\n' > "$work/line.csv"
expect csv_line 0 'IsoScore\* +0( |$)' -- "$istar" isoscore "$work/line.csv"
printf '1,0\n-1,0\n0,2\n0,-2\n' > "$work/cross.csv"
expect csv_cross 0 'IsoScore\* +0\.470588235' -- "$istar" isoscore "$work/cross.csv" --cosine
expect csv_cross_cosine 0 'average cosine +-0\.333333333' -- "$istar" isoscore "$work/cross.csv" --cosine

# Shrinkage: S0 = I (2 x 2) with zeta = 0.5 mixes diag(2/3, 8/3) into diag(5/6, 11/6):
# PR = (8/3)^2 / (25/36 + 121/36) = (64/9) / (146/36) = 256/146, IsoScore* = 110/146.
printf '1,0\n0,1\n' > "$work/identity.csv"
expect shrinkage 0 'IsoScore\* +0\.753424657' -- \
  "$istar" isoscore "$work/cross.csv" --zeta 0.5 --shrinkage "$work/identity.csv"

# Bad input: clear messages naming the file, line or flag, and exit code 2.
printf '1,2,3\n4,5\n' > "$work/ragged.csv"
expect ragged_csv 2 'ragged\.csv:2' -- "$istar" isoscore "$work/ragged.csv"
expect missing_file 2 'nope\.npy' -- "$istar" isoscore "$work/nope.npy"
printf '1,2\n' > "$work/one.csv"
expect one_point 2 'one\.csv: .*at least 2 points' -- "$istar" isoscore "$work/one.csv"
printf '1,2\nnan,3\n4,4\n' > "$work/nan.csv"
expect nan_values 2 'NaN' -- "$istar" isoscore "$work/nan.csv"
expect zeta_range 2 'zeta' -- "$istar" isoscore "$work/cross.csv" --zeta 1.5
expect zeta_without_s0 2 'needs --shrinkage' -- "$istar" isoscore "$work/cross.csv" --zeta 0.5
printf '1,0,0\n0,1,0\n0,0,1\n' > "$work/identity3.csv"
expect s0_shape 2 '\[2, 2\]' -- \
  "$istar" isoscore "$work/cross.csv" --zeta 0.5 --shrinkage "$work/identity3.csv"
printf 'garbage' > "$work/bad.npy"
expect bad_npy 2 'bad\.npy' -- "$istar" isoscore "$work/bad.npy"
expect generate_rank 2 'exceeds' -- "$istar" generate "$work/x.npy" --dims 4 --rank 5

# Sweep files: expansion counts (baseline x1, istar x |lambda| x |zeta|, times 2 seeds) and errors
# that name file:line:column and the field.
printf 'name: t\nmodels: {m: /x}\ntasks: {sst2: /d}\ngrid:\n  seed: [0, 1]\n  regularizers:\n    - baseline\n    - istar: {lambda: [1, 2], zeta: [0.2, 0.5]}\n' > "$work/sweep.yaml"
expect sweep_expand 0 '^10 trials \(2 baseline, 0 cosreg, 8 istar\)' -- "$istar" sweep expand "$work/sweep.yaml"
expect sweep_expand_json 0 '"id": "[0-9a-f]{64}"' -- "$istar" sweep expand "$work/sweep.yaml" --json
expect sweep_expand_columns 0 '^id +model +task +regularizer +lambda +zeta +learning_rate +batch_size +epochs +seed$' -- \
  "$istar" sweep expand "$work/sweep.yaml"
# A regularizer's other parameters join its name; it has no zeta (an empty cell).
printf 'name: t\nmodels: {m: /x}\ntasks: {sst2: /d}\ngrid:\n  regularizers:\n    - vicreg: {lambda: [0.5], gamma: [2]}\n' > "$work/vicreg.yaml"
expect sweep_expand_vicreg 0 '^[0-9a-f]{12}  m +sst2  vicreg gamma=2 +0\.5 +1e-05 +32 +4 +0$' -- \
  "$istar" sweep expand "$work/vicreg.yaml"
sed 's/0\.5\]/1.5]/' "$work/sweep.yaml" > "$work/bad-zeta.yaml"
expect sweep_bad_zeta 2 'bad-zeta\.yaml:8:43: grid\.regularizers\[1\]\.istar\.zeta\[1\]: expected a number in \[0, 1\], got 1\.5' -- \
  "$istar" sweep expand "$work/bad-zeta.yaml"
printf 'name: t\nmodels: {m: /x}\ntasks: {sst2: /d}\ngrid:\n  regularizers: [baseline]\n  colour: [red]\n' > "$work/bad-key.yaml"
expect sweep_unknown_key 2 'bad-key\.yaml:6:3: grid\.colour: unknown key' -- "$istar" sweep expand "$work/bad-key.yaml"
expect sweep_no_action 2 'expand' -- "$istar" sweep

# A real safetensors file written by others: a tensor chosen by name.
model="$data/tiny-bert-jammi/model.safetensors"
if [ -f "$model" ]; then
  expect safetensors 0 '256 points, d = 32' -- \
    "$istar" isoscore "$model" --tensor embeddings.word_embeddings.weight
  expect safetensors_missing_name 2 'embeddings\.word_embeddings\.weight' -- \
    "$istar" isoscore "$model" --tensor no.such.tensor
else
  echo "SKIP safetensors cases: $model is absent"
fi

finish cli_test

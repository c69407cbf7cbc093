#!/usr/bin/env bash
# `istar model inspect` and `istar embed` as a user runs them, on the tiny BERT of shared/data:
# embedding a small text file must give a point cloud that `istar isoscore` reads.
set -u
istar=${1:?usage: models_cli_test.sh ISTAR_BINARY SHARED_DATA_DIR}
data=${2:-}
model="$data/tiny-bert-jammi"
if [ ! -f "$model/model.safetensors" ]; then
  echo "models_cli_test: SKIPPED: $model is absent"
  exit 77  # ctest SKIP_RETURN_CODE
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/expect.sh"

printf '%s\n' "the cat sat on the mat" "a tiny model reads a few short sentences" \
  "" "hello world" "isotropy is measured on every token" > "$work/text.txt"
printf 'sentence\tlabel\nthe cat sat\t1\nhello world again\t0\n' > "$work/glue.tsv"

expect inspect 0 'BertModel \(bert\)' -- "$istar" model inspect "$model"
expect inspect_missing_pooler 0 'missing bert\.pooler\.dense\.' -- "$istar" model inspect "$model"
expect inspect_json 0 '"tokenizer": "tokenizer.json"' -- "$istar" model inspect "$model" --json
expect inspect_absent 2 'istar model inspect: ' -- "$istar" model inspect "$work/nothing"

expect embed 0 'layers 0,1' -- \
  "$istar" embed --model "$model" --input "$work/text.txt" --output "$work/out.safetensors" \
  --batch-size 2
expect isoscore_of_embedding 0 'IsoScore\* ' -- \
  "$istar" isoscore "$work/out.safetensors" --tensor layer_1
expect embed_npy 0 'layers 1$' -- \
  "$istar" embed --model "$model" --input "$work/text.txt" --output "$work/last.npy" --layers 1
expect isoscore_of_npy 0 'points, d = 32' -- "$istar" isoscore "$work/last.npy"
expect embed_column 0 ' of 2 sentences' -- \
  "$istar" embed --model "$model" --input "$work/glue.tsv" --column sentence \
  --output "$work/glue.npy" --layers 0
expect embed_no_specials 0 'tokens of 4 sentences' -- \
  "$istar" embed --model "$model" --input "$work/text.txt" --output "$work/bare.npy" \
  --layers 1 --no-special-tokens
long=$(printf 'word %.0s' $(seq 1 300))
printf '%s\n' "$long" > "$work/long.txt"
expect embed_longer_than_positions 0 '128 tokens of 1 sentences' -- \
  "$istar" embed --model "$model" --input "$work/long.txt" --output "$work/long.npy" --layers 1
expect embed_npy_several_layers 2 'a \.npy file holds one layer' -- \
  "$istar" embed --model "$model" --input "$work/text.txt" --output "$work/x.npy" --layers 0,1
expect embed_layer_out_of_range 2 'layers: 5 is outside 0\.\.1' -- \
  "$istar" embed --model "$model" --input "$work/text.txt" --output "$work/x.npy" --layers 5
expect embed_bad_column 2 'no column "text"' -- \
  "$istar" embed --model "$model" --input "$work/glue.tsv" --column text --output "$work/x.npy"

finish models_cli_test

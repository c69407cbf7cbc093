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
# --cls-only: one row per sentence, each the position-0 row of the full export (the same batches,
# so the same numbers bit for bit). Rows of a float32 .npy file are read by byte offset.
npy_rows() {  # FILE FIRST COUNT COLS: rows [FIRST, FIRST + COUNT) as hex bytes
  local header=$((10 + $(od -An -tu2 -j8 -N2 "$1" | tr -d ' ')))
  tail -c +$((header + $2 * $4 * 4 + 1)) "$1" | head -c $(($3 * $4 * 4)) | od -An -tx1 -v
}
expect embed_cls_only 0 ': 4 tokens of 4 sentences' -- \
  "$istar" embed --model "$model" --input "$work/text.txt" --output "$work/cls.npy" \
  --layers 1 --cls-only --batch-size 2
expect isoscore_of_cls_only 0 ': 4 points, d = 32' -- "$istar" isoscore "$work/cls.npy"
"$istar" embed --model "$model" --input "$work/text.txt" --output "$work/full.npy" --layers 1 \
  --batch-size 2 > /dev/null
first=0 sentences=0 equal=0
while read -r sentence; do
  [ -z "$sentence" ] && continue
  printf '%s\n' "$sentence" > "$work/one.txt"
  tokens=$("$istar" embed --model "$model" --input "$work/one.txt" --output "$work/one.npy" \
    --layers 1 | sed -E 's/.*: ([0-9]+) tokens of.*/\1/')
  [ "$(npy_rows "$work/cls.npy" "$sentences" 1 32)" = "$(npy_rows "$work/full.npy" "$first" 1 32)" ] &&
    equal=$((equal + 1))
  first=$((first + tokens)) sentences=$((sentences + 1))
done < "$work/text.txt"
expect cls_rows_are_the_full_exports_position_0_rows 0 '^4 of 4 sentences$' -- \
  echo "$equal of $sentences sentences"
expect full_export_has_every_token 0 ": $first points, d = 32" -- "$istar" isoscore "$work/full.npy"
expect cls_only_without_specials 2 'cls_only' -- \
  "$istar" embed --model "$model" --input "$work/text.txt" --output "$work/x.npy" --cls-only \
  --no-special-tokens
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

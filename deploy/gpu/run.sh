#!/usr/bin/env bash
# Everything the GPU issue (8) runs on a GPU machine, in one command: the GPU build
# (deploy/gpu/build.sh); the regularizer, model, trainer and comm tests with the CUDA tests
# among them (they skip without a GPU); the IsoScore* / CosReg benchmark on the GPU, closed forms
# against the published forms; `istar train --device cuda` on the demo data; and the BERT-base
# training step (bf16) of istar against Hugging Face transformers for each regularizer. Output goes
# to $OUT (the device tool's folder) or build-gpu/results/, one file per step, and a summary on
# stdout. The goals (issue 8): IsoScore* closed form >= 20x faster than the published form;
# istar's I-STAR step <= 1.05x its baseline step; istar's tokens/s >= transformers' for each.
#
#   bash deploy/gpu/run.sh
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
results=${OUT:-$root/build-gpu/results}
mkdir -p "$results"

bash deploy/gpu/build.sh > "$results/build.log" 2>&1 ||
  { echo "gpu run: the build failed; see build.log"; tail -40 "$results/build.log"; exit 1; }
source build-gpu/env.sh
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true; } |
  tee "$results/gpu.txt"

status=0
for test in regularizers models trainer comm; do
  binary=build-gpu/tests/$test/istar_${test}_test
  if "$binary" --gtest_brief=1 > "$results/test-$test.log" 2>&1; then
    echo "tests $test: passed ($(grep -c '^\[  SKIPPED' "$results/test-$test.log") skipped)"
  else
    echo "tests $test: FAILED (test-$test.log)"
    status=1
  fi
done
grep -h 'RegularizersOnCuda\|Skipped\|SKIPPED' "$results"/test-regularizers.log | head -5

ISTAR_BENCH_DEVICE=cuda bash bench/run_regularizers.sh build-gpu/bench/istar_regularizers_bench \
  > "$results/bench-regularizers-cuda.txt" 2>&1 || status=1
echo "IsoScore* and CosReg on the GPU (bench-regularizers-cuda.txt):"
cat "$results/bench-regularizers-cuda.txt"
# A short training run of istar train on the GPU, fp32 then bf16, on the generated demo task.
demo=$(mktemp -d)
build-gpu/cli/istar demo-data "$demo/demo" > /dev/null
for precision in fp32 bf16; do
  if (cd "$demo" && "$root/build-gpu/cli/istar" train "$root/examples/train-demo.yaml" \
        --device cuda --set "training.precision=$precision" --db demo.db --no-progress \
        --checkpoints "ckpt-$precision") > "$results/train-$precision.log" 2>&1; then
    echo "istar train --device cuda ($precision): $(tail -1 "$results/train-$precision.log")"
  else
    echo "istar train --device cuda ($precision): FAILED (train-$precision.log)"
    status=1
  fi
done

# The same with 2 micro-batches per step (issue 12: the regularizer over the whole step, the
# generators replayed between the passes) and the default --device auto, which must pick the GPU.
if (cd "$demo" && "$root/build-gpu/cli/istar" train "$root/examples/train-demo.yaml" \
      --set training.gradient_accumulation_steps=2 --db demo-acc.db --no-progress \
      --checkpoints ckpt-acc) > "$results/train-accumulated.log" 2>&1 &&
   grep -q 'peak_gpu_memory_bytes' <(cd "$demo" && "$root/build-gpu/cli/istar" sql --db demo-acc.db \
      "SELECT name FROM metrics WHERE name = 'peak_gpu_memory_bytes'"); then
  echo "istar train (auto, 2 micro-batches): $(tail -1 "$results/train-accumulated.log")"
else
  echo "istar train (auto, 2 micro-batches): FAILED or no peak_gpu_memory_bytes row (train-accumulated.log)"
  status=1
fi

# The BERT-base step: istar (Google Benchmark, CSV) and transformers (Python), one after the other.
ISTAR_BENCH_MODEL=bert-base ISTAR_BENCH_DEVICE=cuda ISTAR_BENCH_PRECISION=bf16 \
  build-gpu/bench/istar_train_bench --benchmark_min_time=5 --benchmark_format=csv \
  > "$results/bench-train-istar.csv" 2> "$results/bench-train-istar.err" || status=1
python3 deploy/gpu/bench_transformers.py > "$results/bench-train-transformers.txt" 2>&1 || status=1
awk -F, -v tokens=$((32 * 128)) '
  FNR == NR && /^"BM_TrainStep\// { name = $1; gsub(/"/, "", name); split(name, part, "/");
                                    ms[part[2]] = $3; next }
  FNR != NR { split($0, f, " "); if (f[1] == "transformers") { split(f[3], kv, "="); hf[f[2]] = kv[2] } }
  END {
    printf "%-9s %12s %16s %18s %10s\n", "", "istar ms", "transformers ms", "istar/tf tokens/s", "vs base"
    for (i = 1; i <= 3; i++) {
      r = (i == 1) ? "baseline" : (i == 2) ? "cosreg" : "istar"
      printf "%-9s %12.2f %16.2f %17.2fx %9.3fx\n", r, ms[r], hf[r], hf[r] / ms[r], ms[r] / ms["baseline"]
    }
  }' "$results/bench-train-istar.csv" "$results/bench-train-transformers.txt" |
  tee "$results/summary-train.txt"
exit $status

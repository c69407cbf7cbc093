#!/usr/bin/env bash
# Runs the regularizer benchmarks once and prints the ratios asked for in the foundation issue.
# All figures come from one run of one process, so they share the machine's state.
#   bash bench/run_regularizers.sh [path/to/istar_regularizers_bench]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench=${1:-$root/build/bench/istar_regularizers_bench}
[ -x "$bench" ] || { echo "build first: bash deploy/local/build.sh ($bench is missing)" >&2; exit 1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$bench" --benchmark_format=json --benchmark_min_time=2 --benchmark_out="$out" \
  --benchmark_out_format=json >/dev/null
python3 - "$out" <<'PY'
import json, sys
runs = {b["name"].split("/")[0]: b["real_time"]
        for b in json.load(open(sys.argv[1]))["benchmarks"]}
for name, ms in runs.items():
    print(f"{name:34s} {ms:10.1f} ms")
def ratio(a, b, what):
    print(f"{what:70s} {runs[a] / runs[b]:6.2f}x")
print()
ratio("BM_IsoScoreStarPublished", "BM_IsoScoreStarClosedForm",
      "IsoScore* published form / closed form (fwd+bwd, N=53248, d=768)")
ratio("BM_IsoScoreStarAutogradMatmul", "BM_IsoScoreStarClosedForm",
      "IsoScore* closed form with autograd matmul / with one-product backward")
ratio("BM_IsoScoreStarClosedForm", "BM_CovarianceProduct",
      "IsoScore* closed form (fwd+bwd) / covariance product X^T X alone")
ratio("BM_CosRegPairwise", "BM_CosRegClosedForm",
      "CosReg N x N form / closed form (fwd+bwd, N=8192, d=768)")
PY

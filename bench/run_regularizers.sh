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
"$bench" --benchmark_format=csv --benchmark_min_time=2 >"$out" 2>/dev/null
# CSV rows: "name/real_time",iterations,real_time,cpu_time,time_unit,...
awk -F, '
  /^"BM_/ { name = $1; gsub(/"/, "", name); sub(/\/(real_time|iterations).*/, "", name);
            ms[name] = $3;
            order[++n] = name }
  function ratio(a, b, what) { printf "%-72s %7.2fx\n", what, ms[a] / ms[b] }
  END {
    for (i = 1; i <= n; i++) printf "%-34s %10.1f ms\n", order[i], ms[order[i]]
    print ""
    ratio("BM_IsoScoreStarPublished", "BM_IsoScoreStarClosedForm",
          "IsoScore* published form / closed form (fwd+bwd, N=53248, d=768)")
    ratio("BM_IsoScoreStarAutogradMatmul", "BM_IsoScoreStarClosedForm",
          "IsoScore* closed form with autograd matmul / with one-product backward")
    ratio("BM_IsoScoreStarClosedForm", "BM_CovarianceProduct",
          "IsoScore* closed form (fwd+bwd) / covariance product X^T X alone")
    ratio("BM_CosRegPairwise", "BM_CosRegClosedForm",
          "CosReg N x N form / closed form (fwd+bwd, N=8192, d=768)")
    print ""
    print "Each term through MakeRegularizer / I-STAR'"'"'s (fwd+bwd, N=53248 = 13 x 32 x 128, d=768):"
    split("cosreg vicreg uniformity dispersion sigreg", terms, " ")
    for (i = 1; i <= 5; i++) ratio("BM_Term/" terms[i], "BM_Term/istar", "  " terms[i])
  }' "$out"

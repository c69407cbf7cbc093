#!/usr/bin/env bash
# Data-parallel training steps: for each regularizer, one process with 2 threads, one process
# with 1 thread, and mpirun -np 2 with 1 thread per rank (the same 2 cores as the first), all in
# one run of this script so that the ratios share the machine's state. Prints a markdown table
# and checks the regularizer's all-reduced bytes against the formula (see bench/RESULTS.md).
# Then, on 2 ranks with 1 MiB buckets (22 of them, about as many as BERT-base has with DDP's
# 25 MiB), the gradient average overlapped with the backward pass (autograd hooks, the trainer's)
# against one average after it: step time and the time left in Average() after backward().
#   bash bench/run_data_parallel.sh [path/to/istar_data_parallel_bench] [extra flags for every run]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench=${1:-$root/build/bench/istar_data_parallel_bench}
shift || true
[ -x "$bench" ] || { echo "build first: ninja -C build istar_data_parallel_bench ($bench is missing)" >&2; exit 1; }
mpirun_flags=(-np 2 --oversubscribe)
[ "$(id -u)" -eq 0 ] && mpirun_flags+=(--allow-run-as-root)
out=$(mktemp)
overlap=$(mktemp)
trap 'rm -f "$out" "$overlap"' EXIT
for reg in baseline cosreg istar; do
  # Each line: "<label> key=value ...", the label naming the configuration.
  echo "one_t2 $("$bench" --regularizer "$reg" --threads 2 "$@")" >>"$out"
  echo "one_t1 $("$bench" --regularizer "$reg" --threads 1 "$@")" >>"$out"
  echo "two_t1 $(mpirun "${mpirun_flags[@]}" "$bench" --regularizer "$reg" --threads 1 "$@")" >>"$out"
  for schedule in overlapped after-backward; do
    echo "sched $(mpirun "${mpirun_flags[@]}" "$bench" --regularizer "$reg" --threads 1 \
      --schedule "$schedule" --bucket-kib 1024 --steps 12 "$@")" >>"$overlap"
  done
done
echo "Raw lines:"
cat "$out"
echo
awk '
  { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[$1, kv[1]] = kv[2] }
    reg = v[$1, "regularizer"]; ms[reg, $1] = v[$1, "step_ms_median"]
    if ($1 == "two_t1") { grad[reg] = v[$1, "gradient_bytes"]; regb[reg] = v[$1, "regularizer_bytes"]
                          all[reg] = v[$1, "allreduce_bytes_per_step"]; d = v[$1, "hidden"] }
    if (!(reg in seen)) { seen[reg] = 1; order[++n] = reg } }
  END {
    print "| regularizer | 1 rank, 2 threads (ms/step) | 1 rank, 1 thread (ms/step) | 2 ranks, 1 thread each (ms/step) | ratio 2 ranks / 1 rank 2 threads | ratio 2 ranks / 1 rank 1 thread | bytes all-reduced per step, 2 ranks (gradients + regularizer) |"
    print "|---|---|---|---|---|---|---|"
    for (i = 1; i <= n; i++) {
      r = order[i]
      printf "| %s | %.1f | %.1f | %.1f | %.2f | %.2f | %d (%d + %d) |\n", r, ms[r, "one_t2"],
             ms[r, "one_t1"], ms[r, "two_t1"], ms[r, "two_t1"] / ms[r, "one_t2"],
             ms[r, "two_t1"] / ms[r, "one_t1"], all[r], grad[r], regb[r]
    }
    # Forward all-reduces of the regularizer: CosReg (count, sum of unit vectors) = d + 1 floats;
    # I-STAR (count, sum) = d + 1 then the shifted scatter d^2. The differentiable all-reduce
    # repeats each in the backward pass (its gradient), and the task loss adds one float.
    fwd["baseline"] = 0; fwd["cosreg"] = d + 1; fwd["istar"] = d + 1 + d * d
    print ""
    printf "regularizer bytes, d = %d (float32): measured vs 4 * (2 * forward floats + 1)\n", d
    for (i = 1; i <= n; i++) {
      r = order[i]; want = 4 * (2 * fwd[r] + 1)
      printf "  %-8s forward %6d floats: expected %8d, measured %8d  %s\n", r, fwd[r], want,
             regb[r], (want == regb[r] ? "ok" : "MISMATCH")
    }
  }' "$out"
echo
echo "Raw lines (schedules):"
cat "$overlap"
echo
awk '
  { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    r = v["regularizer"]; s = v["schedule"]; ms[r, s] = v["step_ms_median"]
    avg[r, s] = v["average_ms_median"]; b[r] = v["buckets"]; g[r] = v["gradient_bytes"]
    if (!(r in seen)) { seen[r] = 1; order[++n] = r } }
  END {
    print "| regularizer | buckets | gradient bytes per step | overlapped (ms/step) | after backward (ms/step) | ratio overlapped / after | left in Average(), overlapped (ms) | left in Average(), after (ms) |"
    print "|---|---|---|---|---|---|---|---|"
    for (i = 1; i <= n; i++) {
      r = order[i]
      printf "| %s | %d | %d | %.1f | %.1f | %.2f | %.1f | %.1f |\n", r, b[r], g[r],
             ms[r, "overlapped"], ms[r, "after-backward"],
             ms[r, "overlapped"] / ms[r, "after-backward"], avg[r, "overlapped"],
             avg[r, "after-backward"]
    }
  }' "$overlap"

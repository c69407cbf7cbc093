#!/usr/bin/env bash
# The main job, from a fresh machine: installs, builds, then measures the isotropy of a generated
# point cloud shaped like BERT-base hidden states (4,096 points in d = 768, varying on 384 of the
# 768 dimensions, with a large mean): population IsoScore (384 - 1) / (768 - 1) = 0.4993, which
# this 4,096-point sample measures as 0.456 (docs/cli.md); then runs a whole sweep with
# `istar run` (examples/run-demo.yaml: a tiny random BERT on generated data, baseline, CosReg and
# I-STAR, 10 trials): a coordinator on a loopback port, two worker groups of two MPI ranks each,
# the comparison table at the end, and the HTML report (istar report) in build/demo-report.html,
# whose path it prints.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bash deploy/local/build.sh

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
./build/cli/istar generate "$work/cloud.npy" --points 4096 --dims 768 --rank 384 --offset 20
./build/cli/istar isoscore "$work/cloud.npy" --all

# A whole sweep on generated data (no downloads): examples/run-demo.yaml reads ./demo, so it runs
# inside the work folder.
istar=$root/build/cli/istar
(cd "$work" && "$istar" demo-data demo &&
  "$istar" run "$root/examples/run-demo.yaml" --workers 2 --ranks 2 --db demo.db \
    --report "$root/build/demo-report.html")

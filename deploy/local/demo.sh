#!/usr/bin/env bash
# The main job, from a fresh machine: installs, builds, then measures the isotropy of a generated
# point cloud shaped like BERT-base hidden states (4,096 points in d = 768, varying on 384 of the
# 768 dimensions, with a large mean): population IsoScore (384 - 1) / (768 - 1) = 0.4993, which
# this 4,096-point sample measures as 0.456 (docs/cli.md); then trains
# one I-STAR trial on generated data, then the same trial with another seed on a worker group of
# two MPI ranks (data parallel), and prints `istar compare` of the two seeds.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bash deploy/local/build.sh

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
./build/cli/istar generate "$work/cloud.npy" --points 4096 --dims 768 --rank 384 --offset 20
./build/cli/istar isoscore "$work/cloud.npy" --all

# One trial of fine-tuning, start to finish, on generated data (no downloads): examples/
# train-demo.yaml reads ./demo, so it runs inside the work folder.
istar=$root/build/cli/istar
mpiflags=(--oversubscribe)
if [ "$(id -u)" = 0 ]; then mpiflags+=(--allow-run-as-root); fi
(cd "$work" && "$istar" demo-data demo &&
  "$istar" train "$root/examples/train-demo.yaml" --db demo.db --checkpoints checkpoints &&
  mpirun -np 2 "${mpiflags[@]}" "$istar" train "$root/examples/train-demo.yaml" \
    --set grid.seed=1 --db demo.db --checkpoints checkpoints &&
  "$istar" compare --db demo.db)

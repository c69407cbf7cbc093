#!/usr/bin/env bash
# The main job, from a fresh machine: installs, builds, then measures the isotropy of a generated
# point cloud shaped like BERT-base hidden states (4,096 points in d = 768, varying on 384 of the
# 768 dimensions, with a large mean): IsoScore* near (384 - 1) / (768 - 1) = 0.4993.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bash deploy/local/build.sh

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
./build/cli/istar generate "$work/cloud.npy" --points 4096 --dims 768 --rank 384 --offset 20
./build/cli/istar isoscore "$work/cloud.npy" --all

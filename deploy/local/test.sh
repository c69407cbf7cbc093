#!/usr/bin/env bash
# The tests, from a fresh machine: installs, builds, then runs every test through ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bash deploy/local/build.sh
ctest --test-dir build --output-on-failure --parallel "$(nproc)" --timeout 600

#!/usr/bin/env bash
# Installs the dependencies, configures and builds istar into build/ (Release, Ninja, ccache).
# Under CI (CI=true), compiler warnings are errors.
#
#   bash deploy/local/build.sh [extra CMake arguments]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

bash deploy/debian/install-deps.sh

args=(-S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release)
if command -v ccache >/dev/null 2>&1; then
  args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
if [ "${CI:-}" = "true" ]; then
  args+=(-DISTAR_WERROR=ON)
fi
cmake "${args[@]}" "$@"
cmake --build build --parallel "$(nproc)"

#!/usr/bin/env bash
# The coordinator-only build (ISTAR_WITH_TRAINER=OFF; docs/building.md): configures and builds
# `istar` without LibTorch in BUILD_DIR, then checks that the binary links no LibTorch library,
# offers the head node's commands and not the trainer's, and works: it expands a sweep and serves
# a coordinator that answers a client.
#
#   bash tests/coordinator_only_build_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
source_dir=${1:?usage: coordinator_only_build_test.sh SOURCE_DIR BUILD_DIR}
build_dir=${2:?usage: coordinator_only_build_test.sh SOURCE_DIR BUILD_DIR}

fail() { echo "coordinator_only_build_test: $*" >&2; exit 1; }

args=(-S "$source_dir" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
      -DISTAR_WITH_TRAINER=OFF -DISTAR_WERROR=ON)
if command -v ccache >/dev/null 2>&1; then args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake "${args[@]}" >"$build_dir.configure.log" 2>&1 || { cat "$build_dir.configure.log"; fail "configure failed"; }
grep -q "coordinator-only build (no LibTorch)" "$build_dir.configure.log" ||
  fail "the configure step did not announce the coordinator-only build"
cmake --build "$build_dir" --target istar --parallel 2 >"$build_dir.build.log" 2>&1 ||
  { tail -50 "$build_dir.build.log"; fail "build failed"; }
istar="$build_dir/cli/istar"

# No LibTorch, directly or through another library.
if ldd "$istar" | grep -Ei 'libtorch|libc10|caffe2'; then fail "istar links LibTorch"; fi
# The Torch package was not even looked for.
if grep -q '^Torch_DIR:' "$build_dir/CMakeCache.txt" &&
   ! grep -q '^Torch_DIR:PATH=Torch_DIR-NOTFOUND' "$build_dir/CMakeCache.txt"; then
  grep '^Torch_DIR' "$build_dir/CMakeCache.txt"
  fail "the coordinator-only configuration found LibTorch"
fi

help=$("$istar" --help)
for command in coordinator sweep trials compare export report dashboard sql workers; do
  grep -Eq "^  $command " <<<"$help" || fail "istar --help lacks '$command'"
done
for command in train worker run embed isoscore model demo-data; do
  if grep -Eq "^  $command " <<<"$help"; then fail "istar --help offers '$command'"; fi
done
set +e
"$istar" train x.yaml >/dev/null 2>&1
code=$?
set -e
[ "$code" -ne 0 ] || fail "'istar train' succeeded in the coordinator-only build"

work=$(mktemp -d)
coordinator_pid=
cleanup() {
  if [ -n "$coordinator_pid" ]; then kill "$coordinator_pid" 2>/dev/null || true; wait "$coordinator_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A sweep expands, and a coordinator serves it to a client over loopback.
cat >"$work/sweep.yaml" <<'YAML'
name: head-node
models: {bert: /models/bert}
tasks: {sst2: /data/sst2}
grid:
  seed: [0, 1]
  regularizers: [baseline, {vicreg: {lambda: [0.5], gamma: [1, 2]}}]
YAML
expanded=$("$istar" sweep expand "$work/sweep.yaml")
grep -q '^6 trials (2 baseline, 0 cosreg, 0 istar, 4 vicreg)$' <<<"$expanded" ||
  { echo "$expanded"; fail "sweep expand did not list the 6 trials"; }
grep -q 'vicreg gamma=2' <<<"$expanded" || { echo "$expanded"; fail "no vicreg gamma=2 trial"; }
printf 'secret-token-for-the-test\n' >"$work/token"
chmod 600 "$work/token"
"$istar" coordinator --db "$work/results.db" --listen 127.0.0.1:0 --token-file "$work/token" \
  --address-file "$work/address" >"$work/coordinator.log" 2>&1 &
coordinator_pid=$!
for _ in $(seq 100); do [ -s "$work/address" ] && break; sleep 0.1; done
[ -s "$work/address" ] || { cat "$work/coordinator.log"; fail "the coordinator did not start"; }
"$istar" sweep submit "$work/sweep.yaml" --coordinator-file "$work/address" \
  --token-file "$work/token" >"$work/submit.log" 2>&1 || { cat "$work/submit.log"; fail "sweep submit failed"; }
status=$("$istar" sweep status head-node --coordinator-file "$work/address" --token-file "$work/token")
grep -q "6" <<<"$status" || { echo "$status"; fail "sweep status does not count the 6 trials"; }
echo "coordinator_only_build_test: istar without LibTorch ($(stat -c %s "$istar") bytes) expands, serves and reports a sweep"

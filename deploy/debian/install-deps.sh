#!/usr/bin/env bash
# Installs every Debian 12 package that istar's build, tests and runs need, from Debian's own
# registry. Idempotent: packages already installed are skipped, and apt is not called at all when
# nothing is missing. Works as root, or as a user with sudo.
#
#   bash deploy/debian/install-deps.sh              # install what is missing
#   bash deploy/debian/install-deps.sh --list       # print the package list and exit
#   bash deploy/debian/install-deps.sh --build      # only what building `istar` needs (the
#                                                   # container's build stage)
#   bash deploy/debian/install-deps.sh --container  # also podman and debootstrap, for
#                                                   # deploy/container/test.sh
set -euo pipefail

build_packages=(
  # toolchain
  g++ cmake ninja-build ccache pkg-config git
  # LibTorch (CPU) and an optimized BLAS: without OpenBLAS, Debian's LibTorch runs its matrix
  # products on the reference BLAS, about 25 times slower (docs/building.md).
  libtorch-dev libopenblas0-pthread
  # libraries
  libabsl-dev libcli11-dev nlohmann-json3-dev libyaml-cpp-dev libsqlite3-dev sqlite3 libssl-dev
  libutf8proc-dev libsentencepiece-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libopenmpi-dev openmpi-bin
  # the HTTP server of `istar dashboard` and its gzip compression
  libcpp-httplib-dev zlib1g-dev
)
packages=("${build_packages[@]}"
  # tests and benchmarks (openssl makes tokens and certificates, procps's pgrep/pkill signal the
  # worker groups of tests/cli/worker_cli_test.sh)
  libgtest-dev libgmock-dev libbenchmark-dev openssl procps
  # clang checks the lock annotations (tests/thread_safety_test.sh) and builds the fuzzers with
  # libFuzzer and the sanitizers' runtimes (fuzz/run.sh, ctest fuzz_smoke_test)
  clang-14 libclang-rt-14-dev
  # a one-node Slurm for the tests of worker groups under srun --mpi=pmix (deploy/slurm/)
  slurmctld slurmd slurm-client munge
  # Python's YAML, for the offline check of the Kubernetes manifests (deploy/kubernetes/)
  python3 python3-yaml
  # a real headless browser that loads `istar report`'s pages (tests/cli/report_page_test.sh)
  chromium
)

case "${1:-}" in
  --list) printf '%s\n' "${packages[@]}"; exit 0 ;;
  --build) packages=("${build_packages[@]}") ;;
  # podman builds the images of deploy/container from a base that debootstrap makes locally
  --container) packages+=(podman debootstrap) ;;
  "") ;;
  *) echo "install-deps: unknown option '$1' (expected --list, --build or --container)" >&2; exit 2 ;;
esac

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages are installed"
else
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "install-deps: missing packages (${missing[*]}) and not root, and sudo is not available." >&2
      echo "install-deps: run this script as root." >&2
      exit 1
    fi
    sudo=(sudo)
  fi
  echo "install-deps: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The BLAS that LibTorch will load is whatever the libblas.so.3 alternative points to.
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
case "$blas" in
  *openblas*) echo "install-deps: BLAS is OpenBLAS ($blas)" ;;
  *)
    echo "install-deps: warning: libblas.so.3 is '$blas', not OpenBLAS; LibTorch will be ~25x slower." >&2
    echo "install-deps: fix with: update-alternatives --auto libblas.so.3-x86_64-linux-gnu" >&2
    ;;
esac

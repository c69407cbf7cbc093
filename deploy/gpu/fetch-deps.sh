#!/usr/bin/env bash
# Downloads, on a Debian 12 machine with Debian's registry (a development machine), the few C/C++
# packages that the GPU build needs besides what a bare GPU machine has (CUDA, nvcc, cmake, ninja,
# Python's PyTorch with LibTorch): headers and libraries of Abseil, yaml-cpp, SQLite, OpenSSL's
# libcrypto, utf8proc, SentencePiece, CLI11, nlohmann-json, GoogleTest and Google Benchmark, and
# pkgconf to find two of them. Nothing is installed: the .deb files go to deploy/gpu/debs/ (git
# ignores it), which travels with the working tree to the GPU machine, where deploy/gpu/build.sh
# unpacks them into a prefix. No gRPC, protobuf or MPI: the GPU build leaves the coordinator and
# MPI out (ISTAR_WITH_COORDINATOR=OFF, ISTAR_WITH_MPI=OFF; docs/building.md, "The GPU build").
#
#   bash deploy/gpu/fetch-deps.sh            # download; prints the total size
#   bash deploy/gpu/fetch-deps.sh --list     # print the package list and exit
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

packages=(
  # headers (-dev) and the shared libraries they link to
  libabsl-dev libabsl20220623
  libyaml-cpp-dev libyaml-cpp0.7
  libsqlite3-dev libsqlite3-0
  libssl-dev libssl3
  libutf8proc-dev libutf8proc2
  libsentencepiece-dev libsentencepiece0
  libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev libbenchmark1debian
  # pkg-config, for utf8proc and SentencePiece (no CMake config on Debian)
  pkgconf pkgconf-bin libpkgconf3
)

if [ "${1:-}" = "--list" ]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi
command -v apt-get > /dev/null || { echo "fetch-deps: needs Debian's apt-get" >&2; exit 1; }

mkdir -p "$here/debs"
cd "$here/debs"
rm -f ./*.deb
if ! apt-get download "${packages[@]}" > /dev/null 2>download.err; then
  # A package list that is out of date: refresh it once (needs root), then try again.
  sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  "${sudo[@]}" apt-get update -q > /dev/null
  apt-get download "${packages[@]}" > /dev/null
fi
rm -f download.err
count=$(ls ./*.deb | wc -l)
size=$(du -cb ./*.deb | tail -1 | cut -f1)
echo "fetch-deps: $count packages, $((size / 1024 / 1024)) MiB ($size bytes) in $here/debs"

#!/usr/bin/env bash
# Compiles, with clang's -Wthread-safety as an error, every source file of each module that uses
# Abseil's lock annotations (ABSL_GUARDED_BY and friends): GCC ignores them, so without this a
# read of a guarded member without its mutex would compile silently (docs/architecture.md,
# "Conventions").
#   thread_safety_test.sh REPO_ROOT GENERATED_INCLUDE_DIRS [FILE...]
# GENERATED_INCLUDE_DIRS: the build's folders of generated headers (the version header, the
# protobuf and gRPC code), separated by ':'.
# Only the LibTorch-free modules are searched: the script passes no LibTorch include paths.
# Definitions that module CMake files pass (ISTAR_SOURCE_ROOT, db/) are passed here too.
# With FILEs, checks those instead of the repository's modules (used by the violation fixture).
set -u
root=${1:?usage: thread_safety_test.sh REPO_ROOT GENERATED_INCLUDE_DIR [FILE...]}
generated=${2:?}
shift 2
clang=$(command -v clang++-14 || command -v clang++ || true)
if [ -z "$clang" ]; then
  echo "thread_safety_test: SKIPPED: clang++ is not installed (deploy/debian/install-deps.sh installs clang-14)"
  exit 77
fi
cd "$root" || exit 2
if [ "$#" -gt 0 ]; then
  files=("$@")
else
  modules=$(grep -rlE 'ABSL_(PT_)?GUARDED_BY|ABSL_EXCLUSIVE_LOCKS_REQUIRED' --include='*.h' \
              base arrays tokenizers sweeps db coordinator comm worker cli 2>/dev/null | cut -d/ -f1 | sort -u)
  files=()
  for module in $modules; do
    while IFS= read -r f; do files+=("$f"); done < <(find "$module" -name '*.cc' | sort)
  done
fi
includes=(-I"$root")
IFS=: read -r -a generated_dirs <<< "$generated"
for dir in "${generated_dirs[@]}"; do includes+=(-I"$dir"); done
failures=0
for file in "${files[@]}"; do
  if ! "$clang" -std=c++20 -fsyntax-only -Wthread-safety -Werror=thread-safety \
       "${includes[@]}" -DISTAR_SOURCE_ROOT="\"$root/\"" "$file"; then
    failures=$((failures + 1))
  fi
done
echo "thread_safety_test: ${#files[@]} files checked, $failures with thread-safety errors"
[ "$failures" -eq 0 ]

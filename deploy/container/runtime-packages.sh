#!/usr/bin/env bash
# Prints the Debian packages that hold the shared libraries BINARY loads (ldd, then dpkg -S), one
# per line, sorted: what a runtime image must install for BINARY to start.
#
#   runtime-packages.sh BINARY
set -euo pipefail
binary=${1:?usage: runtime-packages.sh BINARY}
missing=$(ldd "$binary" | awk '/not found/ {print $1}')
if [ -n "$missing" ]; then
  echo "runtime-packages: $binary needs libraries that are not installed: $missing" >&2
  exit 1
fi
for library in $(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $3}'); do
  # dpkg knows a file by the path its package installed; with Debian's merged /usr that may be
  # /lib/... or /usr/lib/..., and the library may be reached through a symlink (alternatives).
  for path in "$library" "$(readlink -f "$library")" "${library#/usr}" "/usr${library}"; do
    if owner=$(dpkg -S "$path" 2> /dev/null); then
      echo "${owner%%:*}"
      break
    fi
  done
done | sort -u

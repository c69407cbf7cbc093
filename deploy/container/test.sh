#!/usr/bin/env bash
# Builds the CPU image of deploy/container/Containerfile with Debian's podman, from a Debian 12
# base made here with debootstrap (no image registry needed: only Debian's package mirror), then
# runs `istar --version` and a one-trial `istar train` of the demo inside it. Prints each step's
# time and the images' sizes. Too slow for CI (it builds istar from scratch in the image: about
# 20 minutes on 2 cores); run it by hand as root after `install-deps.sh --container`.
#
#   bash deploy/container/test.sh
#   ISTAR_CONTAINER_WORK=/var/tmp/x bash deploy/container/test.sh   # where the base is made
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=${ISTAR_CONTAINER_WORK:-/var/tmp/istar-container}
mirror=${ISTAR_DEBIAN_MIRROR:-http://deb.debian.org/debian}
base=localhost/istar-debian:12
image=localhost/istar:test
for tool in podman debootstrap; do
  command -v "$tool" > /dev/null ||
    { echo "container test: $tool is missing: bash deploy/debian/install-deps.sh --container" >&2; exit 2; }
done
[ "$(id -u)" -eq 0 ] || { echo "container test: debootstrap needs root" >&2; exit 2; }
mkdir -p "$work"
step() {  # NAME COMMAND...: runs COMMAND, logs to $work/NAME.log, prints the time it took
  local name=$1 start=$SECONDS
  shift
  if ! "$@" > "$work/$name.log" 2>&1; then
    echo "container test: $name failed; the end of $work/$name.log:" >&2
    tail -20 "$work/$name.log" >&2
    exit 1
  fi
  echo "container test: $name: $((SECONDS - start)) s"
}

make_base() {
  rm -rf "$work/rootfs"
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror"
  cat > "$work/rootfs/etc/apt/sources.list" << SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian}/debian-security bookworm-security main
SOURCES
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  tar -C "$work/rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$base"
  rm -rf "$work/rootfs"
}
if podman image exists "$base"; then
  echo "container test: base image $base exists (podman rmi it to make it again)"
else
  step debootstrap make_base
fi
# Where podman cannot start containers (this development machine: a cgroup v1/v2 hybrid that
# crun refuses, and setrlimit denied inside its sandbox), RUN steps use chroot isolation and the
# checks below run as the RUN step of a one-line image on top: the image's own filesystem, user
# and environment, without an OCI runtime. On an ordinary host `podman run` is used.
isolation=()
if podman run --rm --network none "$base" true > "$work/podman-run.log" 2>&1; then
  can_run=1
else
  can_run=0
  isolation=(--isolation chroot)
  echo "container test: podman run fails here ($(tail -1 "$work/podman-run.log")); using chroot isolation"
fi
step build podman build "${isolation[@]}" --network host --build-arg "BASE=$base" \
  -f "$root/deploy/container/Containerfile" -t "$image" "$root"
step coordinator_image podman build "${isolation[@]}" --network host --build-arg "BASE=$base" \
  --target coordinator -f "$root/deploy/container/Containerfile" \
  -t localhost/istar-coordinator:test "$root"

checks='istar --version && cd /tmp && istar demo-data demo > /dev/null &&
  istar train /tmp/train-demo.yaml --db demo.db --checkpoints ckpt --no-progress'
in_image() {
  if [ "$can_run" -eq 1 ]; then
    podman run --rm --network none -v "$root/examples/train-demo.yaml:/tmp/train-demo.yaml:ro" \
      --entrypoint bash "$image" -c "$checks"
  else
    mkdir -p "$work/checks"
    cp "$root/examples/train-demo.yaml" "$work/checks/"
    printf 'FROM %s\nCOPY train-demo.yaml /tmp/train-demo.yaml\nRUN %s\n' "$image" \
      "$(tr '\n' ' ' <<< "$checks")" > "$work/checks/Containerfile"
    podman build --isolation chroot --network host --no-cache -t localhost/istar-checks:test \
      "$work/checks" && podman rmi localhost/istar-checks:test > /dev/null
  fi
}
step train in_image
echo "container test: in the image: $(grep -E '^istar [0-9]' "$work/train.log" | head -1)"
grep -E 'done after [0-9]+ steps' "$work/train.log" ||
  { echo "container test: the trial did not finish:" >&2; cat "$work/train.log" >&2; exit 1; }
for i in "$image" localhost/istar-coordinator:test "$base"; do
  echo "container test: $i: $(podman image inspect --format '{{.Size}}' "$i" | awk '{printf "%.0f MiB", $1 / 1048576}')"
done
echo "container test: passed"

# Sourced by the tests that need a real Slurm (slurm_train_test.sh, slurm_run_test.sh). Needs
# $root (the repository) and $work (the test's folder, removed at the end).
#
#   start_local_slurm   # a one-node Slurm in $work/slurm (deploy/slurm/local-slurm.sh), stopped
#                       # and $work removed when the script exits; SLURM_CONF exported. Exits 77
#                       # (ctest: skipped) with the reason where Slurm cannot run: not root, its
#                       # packages missing, or daemons that do not come up.

start_local_slurm() {
  slurm="$work/slurm"
  if ! bash "$root/deploy/slurm/local-slurm.sh" start "$slurm" > "$work/slurm-start.log" 2>&1; then
    echo "SKIP: Slurm cannot run here: $(tail -3 "$work/slurm-start.log" | tr '\n' ' ')"
    bash "$root/deploy/slurm/local-slurm.sh" stop "$slurm" > /dev/null 2>&1
    rm -rf "$work"
    exit 77
  fi
  trap 'bash "$root/deploy/slurm/local-slurm.sh" stop "$slurm"; rm -rf "$work"' EXIT
  export SLURM_CONF="$slurm/slurm.conf"
}

#!/usr/bin/env bash
# A one-node Slurm on this machine, from Debian's packages (slurmctld, slurmd, slurm-client,
# munge; bash deploy/debian/install-deps.sh installs them), for tests of istar's worker groups
# under srun --mpi=pmix. Runs as root: slurmctld and slurmd as root (SlurmUser=root), munged as
# the munge user. Everything Slurm writes stays in DIR; the node claims 8 CPUs whatever the machine
# has (SlurmdParameters=config_overrides), so 2 groups of 2 ranks fit on a 2-core machine; the
# daemons talk over 127.0.0.1, so the host name need not resolve.
#
#   bash deploy/slurm/local-slurm.sh start DIR   # writes DIR/slurm.conf, starts the daemons,
#                                                # waits until the node is idle (30 s at most)
#   export SLURM_CONF=DIR/slurm.conf             # then srun, sbatch, squeue, scancel use it
#   bash deploy/slurm/local-slurm.sh stop DIR    # cancels every job, stops what start started
#
# Exit codes: 0 done; 1 the daemons did not come up (their logs' tails are printed); 3 this
# machine cannot run it (not root, or a package missing: the message says which).
set -uo pipefail
action=${1:-}
dir=${2:-}
if [ -z "$action" ] || [ -z "$dir" ] || { [ "$action" != start ] && [ "$action" != stop ]; }; then
  echo "usage: local-slurm.sh start|stop DIR" >&2
  exit 2
fi

stop() {
  [ -f "$dir/slurm.conf" ] || return 0
  SLURM_CONF="$dir/slurm.conf" scancel --quiet --full --user=root 2>/dev/null || true
  # The pids are read first: slurmctld removes its pid file when told to stop, before it exits.
  local pids=()
  for daemon in slurmd slurmctld munged; do
    [ -f "$dir/$daemon.pid" ] && pids+=("$(cat "$dir/$daemon.pid")")
  done
  [ "${#pids[@]}" -gt 0 ] && kill "${pids[@]}" 2>/dev/null
  # slurmctld saves its state before it exits; after 10 s, whatever is left is killed.
  for attempt in $(seq 101); do
    local alive=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    [ "${#alive[@]}" -eq 0 ] && break
    [ "$attempt" -eq 101 ] && kill -9 "${alive[@]}" 2>/dev/null
    sleep 0.1
  done
  rm -f "$dir"/{slurmd,slurmctld,munged}.pid
}

if [ "$action" = stop ]; then
  stop
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "local-slurm: needs root (slurmd runs jobs as any user)" >&2
  exit 3
fi
for tool in slurmctld slurmd srun sinfo munged munge; do
  if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
    echo "local-slurm: $tool is missing: bash deploy/debian/install-deps.sh installs slurmctld," \
         "slurmd, slurm-client and munge" >&2
    exit 3
  fi
done

mkdir -p "$dir"/{state,spool,log}
dir=$(cd "$dir" && pwd)

# Two free ports next to each other (a connection that succeeds means the port is taken).
taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=$((20000 + RANDOM % 30000))
while taken "$port" || taken "$((port + 1))"; do port=$((port + 2)); done

host=$(hostname -s)
cat > "$dir/slurm.conf" <<EOF
# Written by deploy/slurm/local-slurm.sh: a one-node Slurm for istar's tests.
ClusterName=istar-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
ReturnToService=2
SlurmdParameters=config_overrides
JobAcctGatherType=jobacct_gather/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=8 RealMemory=8000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

# munge: one daemon per machine; reuse a running one.
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
  # munged refuses files another user owns (a munged once started as root leaves such a log).
  chown -R munge:munge /run/munge /var/log/munge /var/lib/munge
  [ -f /etc/munge/munge.key ] || { /usr/sbin/mungekey --create 2>/dev/null ||
                                   /usr/sbin/create-munge-key -f; }
  chown munge:munge /etc/munge/munge.key
  if command -v runuser >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged
  else
    /usr/sbin/munged --force
  fi
  pgrep -n -x munged > "$dir/munged.pid"
fi

export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF" && slurmd -f "$SLURM_CONF"
for _ in $(seq 300); do
  [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && { echo "local-slurm: up, SLURM_CONF=$SLURM_CONF"; exit 0; }
  sleep 0.1
done
echo "local-slurm: the node did not become idle within 30 s; sinfo says: $(sinfo -h 2>&1)" >&2
tail -5 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 2>/dev/null
stop
exit 1

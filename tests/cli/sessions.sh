# Sourced by the scripts that start and kill istar processes the way nodes die
# (worker_cli_test.sh, hang_test.sh, simulate_test.sh, bench/soak.sh). Needs $work.
#
#   start LOG COMMAND...    # COMMAND in a session of its own (setsid keeps the pid), output
#                           # appended to LOG; sets $started. Every process it starts (mpiexec's
#                           # ranks) can then be signalled together, as a node's death would
#   signal_session SIG PID  # SIG to every process of the session PID started
#   gone PID                # true once PID has exited
#   at_cleanup COMMAND...   # COMMAND runs at exit after the sessions are killed and before $work
#                           # is removed (an unmount, a network namespace to delete)
# At exit every session still running is continued and killed, and $work removed (kept, and
# named, when ISTAR_KEEP_TEST_DIR is set).
sessions=()
cleanups=()
cleanup_sessions() {
  for s in "${sessions[@]}"; do
    pkill -CONT -s "$s" 2> /dev/null
    pkill -9 -s "$s" 2> /dev/null
  done
  for s in "${sessions[@]}"; do  # a killed process can hold a mount busy until it is reaped
    for _ in $(seq 50); do pgrep -s "$s" > /dev/null || break; sleep 0.1; done
  done
  for c in "${cleanups[@]}"; do eval "$c"; done
  [ -n "${ISTAR_KEEP_TEST_DIR:-}" ] && echo "kept $work" || rm -rf "$work"
}
at_cleanup() { cleanups+=("$(printf '%q ' "$@")"); }
trap cleanup_sessions EXIT
start() {
  local log=$1
  shift
  setsid "$@" >> "$log" 2>&1 &
  started=$!
  disown "$started"  # no "Killed" notices from the shell: the kills are the test
  sessions+=("$started")
}
signal_session() { pkill "-$1" -s "$2"; }
gone() { ! kill -0 "$1" 2> /dev/null; }

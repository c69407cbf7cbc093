# Sourced by the command-line test scripts (tests/cli/*_test.sh): one way to run a command and
# check what it did, and one closing line that ctest and people read.
#
#   source "$(dirname "$0")/expect.sh"
#   expect NAME CODE REGEX -- COMMAND...   # COMMAND must exit with CODE and print (stdout and
#                                          # stderr together) something matching REGEX (grep -E)
#   finish NAME                            # prints "NAME: P passed, F failed"; exits 1 if any failed
#   wait_for SECONDS COMMAND...            # runs COMMAND every 0.1 s until it succeeds; 1 if it
#                                          # never did within SECONDS
failures=0
passed=0

expect() {
  local name=$1 code=$2 regex=$3
  shift 4
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" -ne "$code" ]; then
    echo "FAIL $name: exit code $rc, expected $code. Output:"; echo "$out" | head -20
    failures=$((failures + 1))
  elif ! grep -qE -- "$regex" <<<"$out"; then
    echo "FAIL $name: output does not match /$regex/. Output:"; echo "$out" | head -20
    failures=$((failures + 1))
  else
    passed=$((passed + 1))
  fi
}

wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" > /dev/null 2>&1; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.1
  done
}

finish() {
  echo "$1: $passed passed, $failures failed"
  [ "$failures" -eq 0 ] || exit 1
  exit 0
}

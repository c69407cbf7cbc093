#!/usr/bin/env bash
# The read commands of the results database (`istar trials`, `compare`, `export`, `sql`) as a user
# runs them, on a database written through the Store API by make_demo_db (its numbers are listed
# in tests/db/make_demo_db.cc): each case checks an exit code and what was printed.
set -u
istar=${1:?usage: db_cli_test.sh ISTAR_BINARY MAKE_DEMO_DB_BINARY}
make_demo_db=${2:?usage: db_cli_test.sh ISTAR_BINARY MAKE_DEMO_DB_BINARY}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/expect.sh"

# check NAME CONDITION...: a test(1) condition that must hold.
check() {
  local name=$1
  shift
  if [ "$@" ]; then
    passed=$((passed + 1))
  else
    echo "FAIL $name: [ $* ]"
    failures=$((failures + 1))
  fi
}

db="$work/results.db"
"$make_demo_db" "$db" || { echo "FAIL make_demo_db"; exit 1; }
before=$(cksum <"$db")

expect trials_help 0 '--where' -- "$istar" trials --help
expect trials_all 0 '^14 trials: 12 done, 1 failed, 1 pending$' -- "$istar" trials --db "$db"
expect trials_failed 0 'albert +qnli +baseline .* failed .* diverged: loss is NaN at step 812' -- \
  "$istar" trials --db "$db" --status failed
expect trials_where 0 '^3 trials: 3 done$' -- \
  "$istar" trials --db "$db" --where lambda=-1 --where regularizer=istar
expect trials_or 0 '^4 trials: 2 done, 1 failed, 1 pending$' -- \
  "$istar" trials --db "$db" --model distilbert --where model=albert
expect trials_and 0 '^2 trials: 2 done$' -- \
  "$istar" trials --db "$db" --model distilbert --where lambda=-5 --sweep demo
expect trials_csv 0 '^3101000000000000000000000000000000000000000000000000000000000000,bert,sst2,istar,-1,0.2,1e-05,32,4,0,done,1,0.93,$' -- \
  "$istar" trials --db "$db" --format csv --where seed=0 --where lambda=-1
expect trials_json 0 '"validation/accuracy": 0.98' -- "$istar" trials --db "$db" --format json
expect trials_markdown 0 '^\| id \| model \| task \|' -- "$istar" trials --db "$db" --format markdown
expect trials_bad_key 2 "unknown key 'colour'" -- "$istar" trials --db "$db" --where colour=red
expect trials_bad_number 2 'lambda=abc: not a number' -- "$istar" trials --db "$db" --where lambda=abc
expect trials_bad_status 2 "unknown status 'finished'" -- "$istar" trials --db "$db" --status finished
expect trials_unknown_sweep 2 "no sweep is named 'nope'" -- "$istar" trials --db "$db" --sweep nope

expect compare_text 0 'bert +sst2 +accuracy +0\.9200 ± 0\.0200 \(n=3\) +0\.9250 \(n=1\) \+0\.0050 \[n/a\] paired \[n/a\] +0\.9500 ± 0\.0265 \(n=3\) \+0\.0300 \[-0\.0248, \+0\.0848\] paired \[' -- \
  "$istar" compare --db "$db"
expect compare_no_baseline 0 'distilbert +sst2 +accuracy +- +- +0\.8600 ± 0\.0141 \(n=2\)$' -- \
  "$istar" compare --db "$db"
expect compare_chosen 0 'bert +sst2 +accuracy +istar +-1 +0\.2 +1e-05 +32 +4 +3 +0 +0 +2 +2$' -- \
  "$istar" compare --db "$db"
expect compare_json 0 '"ci_low": -0\.02476132730006' -- "$istar" compare --db "$db" --format json
expect compare_csv 0 '^bert,sst2,accuracy,cosreg,1,0,1e-05,32,4,,1,0,0,1,1,1,0\.925,0\.925,,0\.00500' -- \
  "$istar" compare --db "$db" --format csv
expect compare_markdown 0 '^\| bert \| sst2 \| accuracy \| 0\.9200 ± 0\.0200 \(n=3\) \|' -- \
  "$istar" compare --db "$db" --format markdown
expect compare_digits 0 '0\.920 ± 0\.020 \(n=3\)' -- "$istar" compare --db "$db" --digits 3
expect compare_lower 0 'bert +sst2 +accuracy +istar +-5 ' -- "$istar" compare --db "$db" --lower-is-better
expect compare_other_metric 0 'no done trial has f1' -- "$istar" compare --db "$db" --metric f1
expect compare_bad_confidence 2 'confidence must be in \(0, 1\)' -- \
  "$istar" compare --db "$db" --confidence 1.5

expect export_out 0 'wrote .*isotropy\.csv \(6 rows\)' -- \
  "$istar" export --db "$db" --trial 3101 --out "$work/export"
check export_metrics_lines "$(wc -l <"$work/export/metrics.csv")" -eq 5
check export_isotropy_lines "$(wc -l <"$work/export/isotropy.csv")" -eq 7
expect export_metrics_rows 0 '^3101[0-9]{60},50,0\.5,train,loss,0\.41$' -- cat "$work/export/metrics.csv"
expect export_union_layer 0 '^3101[0-9]{60},0,0,-1,0\.5,0\.4,0\.2,9\.5$' -- cat "$work/export/isotropy.csv"
expect export_stdout 0 '^trial_id,step,epoch,layer,isoscore_star' -- \
  "$istar" export --db "$db" --trial 31010 --only isotropy
expect export_ambiguous 2 'ambiguous' -- "$istar" export --db "$db" --trial 3
expect export_unknown 2 "no trial id starts with 'ffff'" -- "$istar" export --db "$db" --trial ffff
expect export_not_hex 2 'not a trial id' -- "$istar" export --db "$db" --trial xyz

expect sql_csv 0 '^n$' -- "$istar" sql --db "$db" "SELECT count(*) AS n FROM trials" --format csv
expect sql_count 0 '^14$' -- "$istar" sql --db "$db" "SELECT count(*) AS n FROM trials" --format csv
expect sql_text 0 'failed +1' -- \
  "$istar" sql --db "$db" "SELECT status, count(*) AS n FROM trials GROUP BY status"
expect sql_json_null 0 '"twonn": null' -- \
  "$istar" sql --db "$db" "SELECT layer, twonn FROM isotropy WHERE layer = 1" --format json
expect sql_delete 2 'writes to the database' -- "$istar" sql --db "$db" "DELETE FROM trials"
expect sql_pragma_write 2 'writes to the database' -- "$istar" sql --db "$db" "PRAGMA user_version = 7"
expect sql_syntax 2 'syntax error' -- "$istar" sql --db "$db" "SELEC 1"
expect sql_two_statements 2 'one SQL statement' -- "$istar" sql --db "$db" "SELECT 1; SELECT 2"

# Bad input: exit code 2 and a message naming the file or flag; a read never creates a file.
expect missing_db 2 'nope\.db: no such database file' -- "$istar" trials --db "$work/nope.db"
expect missing_db_sql 2 'nope\.db' -- "$istar" sql --db "$work/nope.db" "SELECT 1"
check missing_db_not_created ! -e "$work/nope.db"
expect bad_format 2 'format' -- "$istar" trials --db "$db" --format xml
expect bad_format_compare 2 'format' -- "$istar" compare --db "$db" --format yaml
printf 'this is not a database, only text that is long enough to look like one\n%.0s' {1..40} \
  >"$work/text.db"
expect not_a_database 2 'text\.db: .*file is not a database' -- "$istar" trials --db "$work/text.db"
expect missing_flag 2 '--db' -- "$istar" compare

# None of the above changed the database file.
check db_unchanged "$(cksum <"$db")" = "$before"

finish db_cli_test

#!/bin/sh
# bench-smoke-procs: the issue 18 parts of softse-bench run to the end and
# report (no time is asserted): a row on 2 threads, the CPU-per-operation
# and naive-raw columns, the process table, and the issue 16 rows, which
# print a rate or "n/a", never fail the run.
set -eu
json=$(mktemp)
trap 'rm -f "$json"' EXIT
out=$("$@" --json-out "$json") || exit 1
printf '%s\n' "$out"
fail() {
    echo "smoke-procs: $*" >&2
    exit 1
}
has() { printf '%s\n' "$out" | grep -Eq "$1"; }
has '^hmac-sha256-64 +2 +[0-9]+ ' || fail "no 2-thread hmac-sha256-64 rate"
has '^processes ' || fail "no process table"
# in the process table: operation, process count, aggregate rate
printf '%s\n' "$out" | sed -n '/^processes /,$p' | grep -Eq '^hmac-sha256-64 +2 +[0-9]+ ' ||
    fail "no 2-process hmac-sha256-64 rate"
has '^rsa1024-sign +1 +([0-9]+|n/a)' || fail "no rsa1024-sign row"
has '^des3-cbc-1k +1 +([0-9]+|n/a)' || fail "no des3-cbc-1k row"
for key in '"cpu_us_per_op": [0-9]' '"raw_naive": ' '"module1_cpu_over_raw": ' '"processes": \['; do
    grep -Eq "$key" "$json" || fail "JSON lacks $key"
done

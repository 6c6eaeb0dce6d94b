#!/bin/sh
# bench-smoke: softse-bench runs to the end and prints its rows.
out=$("$@") || exit 1
printf '%s\n' "$out"
for row in random-32 digest-sha256-64 digest-sha256-1k; do
    printf '%s\n' "$out" | grep -q "^$row " || { echo "smoke: no row $row" >&2; exit 1; }
done

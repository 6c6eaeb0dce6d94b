#!/bin/sh
# bench-populate: softse-bench --populate-with reaches every object level,
# and the populated objects are found (find_once fails a level whose label
# is missing or found twice; the bench reads one label back).
out=$("$@") || exit 1
printf '%s\n' "$out"
levels=$(printf '%s\n' "$out" | awk '$2 == "softse" && $1 ~ /^[0-9]+$/ && $5 != "n/a" && $6 != "n/a"' | wc -l)
[ "$levels" -eq 2 ] || { echo "populate-check: $levels of 2 levels measured" >&2; exit 1; }
printf '%s\n' "$out" | grep -q "populated by " || { echo "populate-check: bulk path not used" >&2; exit 1; }

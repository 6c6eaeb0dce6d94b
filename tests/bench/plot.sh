#!/bin/sh
# plot.sh RESULTS.json OUT.png — C_FindObjects latency and C_Initialize
# time against the number of token objects, one line per module, from
# the output of `softse-bench --json`.  Needs jq and gnuplot.
set -eu
json=$1 png=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

modules=$(jq -r '.modules | length' "$json")
plots_find= plots_init=
i=1
while [ "$i" -le "$modules" ]; do
    name=$(jq -r ".modules[$((i - 1))].name" "$json")
    jq -r --arg m "module$i" \
        '.objects[] | select(.module == $m and .reached) | "\(.count) \(.find_us // "NaN") \(.init_ms // "NaN")"' \
        "$json" > "$tmp/$i.dat"
    sep=${plots_find:+, }
    plots_find="$plots_find$sep'$tmp/$i.dat' using 1:2 with linespoints lw 2 pt 7 title '$name'"
    plots_init="$plots_init$sep'$tmp/$i.dat' using 1:3 with linespoints lw 2 pt 7 title '$name'"
    i=$((i + 1))
done

gnuplot <<GNUPLOT
set terminal pngcairo size 1200,500 font 'sans,11'
set output '$png'
set multiplot layout 1,2 title 'softse-bench: cost against the number of objects on the token'
set logscale xy
set grid
set key top left
set format x '10^{%L}'
set format y '10^{%L}'
set xlabel 'token objects'
set ylabel 'microseconds per search'
set title 'C\_FindObjectsInit + C\_FindObjects + Final by a unique CKA\_LABEL'
plot $plots_find
set ylabel 'milliseconds'
set title 'C\_Initialize + C\_GetSlotList + C\_OpenSession (fresh process)'
plot $plots_init
unset multiplot
GNUPLOT

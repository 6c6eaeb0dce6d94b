#!/bin/sh
# plot.sh RESULTS.json OUT.png — C_FindObjects latency and C_Initialize
# time against the number of token objects, one line per module, from
# the output of `softse-bench --json`.  A dashed line marks the target:
# twice module 1's value at its smallest object count.  Needs jq and
# gnuplot.
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

# The target line: 2 × module 1's first reached level, over module 1's range.
limits=$(jq -r '[.objects[] | select(.module == "module1" and .reached)] |
    "\(.[0].count) \(.[-1].count) \(2 * .[0].find_us) \(2 * .[0].init_ms)"' "$json")
set -- $limits
name1=$(jq -r '.modules[0].name' "$json")
printf '%s %s %s\n%s %s %s\n' "$1" "$3" "$4" "$2" "$3" "$4" > "$tmp/target.dat"
target_find="'$tmp/target.dat' using 1:2 with lines dt 2 lc rgb 'gray40' title '2 × $name1 at $1 objects'"
target_init="'$tmp/target.dat' using 1:3 with lines dt 2 lc rgb 'gray40' title '2 × $name1 at $1 objects'"

gnuplot <<GNUPLOT
set terminal pngcairo size 1200,500 font 'sans,11'
set output '$png'
set multiplot layout 1,2 title 'softse-bench: cost against the number of objects on the token'
set logscale xy
set grid
set key right center
set format x '10^{%L}'
set format y '10^{%L}'
set yrange [1:*]
set xlabel 'token objects'
set ylabel 'microseconds per search'
set title 'C\_FindObjectsInit + C\_FindObjects + Final by a unique CKA\_LABEL'
plot $plots_find, $target_find
set ylabel 'milliseconds'
set title 'C\_Initialize + C\_GetSlotList + C\_OpenSession (fresh process)'
plot $plots_init, $target_init
unset multiplot
GNUPLOT

#!/bin/sh
# report.sh [BUILD_DIR] — the paired release benchmark behind
# docs/performance.md, rerun and written back into it (issue 18).
#
#   meson setup build-rel -Dbuildtype=release -Dtests=true && ninja -C build-rel
#   tests/bench/report.sh build-rel          # about 15 minutes; run it on a quiet machine
#
# One softse-bench run of every operation row, softse against SoftHSMv2 and
# raw OpenSSL (careful and naive), on 1 and 2 threads, and the process
# rows (1, 2, 4 processes); then one run of the object counts.  Temporary
# stores (--fresh-store), the PIN KDF at its default.  The JSON goes to
# $OUT (default docs/bench-results/), the tables replace the text between
# the "bench:tables" markers of docs/performance.md, and the plot is
# redrawn when gnuplot is installed.  Environment: ROUNDS (7), SECONDS_PER
# (0.3), PEER (/usr/lib/softhsm/libsofthsm2.so; empty for none), OBJECTS
# (1000,10000,100000,1000000), SKIP_OBJECTS (1: keep the last object-count
# results, for a rerun of the operation rows only).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build-rel}
case $build in /*) ;; *) build=$top/$build ;; esac
out=${OUT:-$top/docs/bench-results}
doc=$top/docs/performance.md
bench=$build/tests/bench/softse-bench
module=$build/module/softse-pkcs11.so
peer=${PEER-/usr/lib/softhsm/libsofthsm2.so}
rounds=${ROUNDS:-7}
seconds=${SECONDS_PER:-0.3}

[ -x "$bench" ] && [ -f "$module" ] || { echo "report.sh: build $build first (see above)" >&2; exit 1; }
grep -q 'buildtype=release\|buildtype : release' "$build/meson-logs/meson-log.txt" 2>/dev/null ||
    echo "report.sh: warning: $build may not be a release build" >&2
mkdir -p "$out"
set -- --module "$module"
[ -n "$peer" ] && [ -f "$peer" ] && set -- "$@" --module2 "$peer"

echo "report.sh: load before: $(cat /proc/loadavg); cpu pressure: $(head -1 /proc/pressure/cpu 2>/dev/null || echo n/a)" >&2
date -u +%Y-%m-%dT%H:%MZ > "$out/when.txt"
git -C "$top" rev-parse --short HEAD > "$out/commit.txt" 2>/dev/null || true

# 1. operation, thread and process rows (one run: every ratio paired)
"$bench" "$@" --fresh-store --threads 1,2 --procs 1,2,4 --rounds "$rounds" --seconds "$seconds" \
    --ops random,digest,hmac,ecdsa,eddsa,rsa,aes,des3,keygen,object,gkea,ki,sk3,procs \
    --json-out "$out/ops.json" > "$out/ops.txt"
# 2. object counts (softse in bulk through softse-populate)
if [ "${SKIP_OBJECTS:-0}" != 1 ]; then
    "$bench" "$@" --fresh-store --ops find,init --objects "${OBJECTS:-1000,10000,100000,1000000}" \
        --objects2 1000,10000 --rounds 9 --populate-with "$build/tests/bench/softse-populate" \
        --json-out "$out/objects.json" > "$out/objects.txt"
fi
echo "report.sh: load after: $(cat /proc/loadavg)" >&2

# The tables into docs/performance.md, between the markers.
tables=$(mktemp)
trap 'rm -f "$tables" "$tables.doc"' EXIT
{
    echo "Run of $(cat "$out/when.txt"), commit $(cat "$out/commit.txt" 2>/dev/null || echo '?'), by \`tests/bench/report.sh\`:"
    echo
    "$top/tests/bench/report-md.sh" "$out/ops.json"
} > "$tables"
awk -v tables="$tables" '
    /<!-- bench:tables:begin -->/ { print; while ((getline line < tables) > 0) print line; skip = 1; next }
    /<!-- bench:tables:end -->/ { skip = 0 }
    !skip' "$doc" > "$tables.doc"
mv "$tables.doc" "$doc"

if command -v gnuplot > /dev/null; then
    "$top/tests/bench/plot.sh" "$out/objects.json" "$top/docs/performance-objects.png"
else
    echo "report.sh: no gnuplot: docs/performance-objects.png not redrawn (apt-get install gnuplot-nox)" >&2
fi
echo "report.sh: $doc updated; results in $out" >&2

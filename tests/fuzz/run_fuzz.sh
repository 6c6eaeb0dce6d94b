#!/usr/bin/env bash
# run_fuzz.sh EXE TARGET SOURCE_DIR BUILD_DIR [libFuzzer options...]
# Runs one libFuzzer target from its committed seeds (corpus/TARGET) and
# regressions (regressions/TARGET).  New inputs go to a work corpus in the
# build directory (the committed corpus is never written), crashes to
# BUILD_DIR/crashes/TARGET/.  Exits non-zero when the target crashes,
# leaks or times out (1, or 70 for a timeout).
set -euo pipefail
exe=$1 target=$2 src=$3 build=$4
shift 4
work=$build/work-corpus/$target
crashes=$build/crashes/$target
mkdir -p "$work" "$crashes"
seeds=("$src/corpus/$target")
[ -d "$src/regressions/$target" ] && seeds+=("$src/regressions/$target")
# libFuzzer's default -error_exitcode is 77, which meson reads as "skipped".
exec "$exe" -error_exitcode=1 -artifact_prefix="$crashes/" -print_final_stats=1 "$@" "$work" \
    "${seeds[@]}"

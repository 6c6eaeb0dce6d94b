#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this):
#   1. installs missing Debian packages (as root; tests/helpers/install-deps.sh);
#   2. builds build/ with warnings as errors and runs every test;
#   3. runs the valgrind suite of build/ (tests/reliability/valgrind.sh: the
#      unit, integration and short reliability tests under memcheck; memory
#      errors and definite leaks fail it);
#   4. builds build-asan/ with AddressSanitizer and UBSan and runs every
#      test again, leak checks on.  Shell tests that drive uninstrumented
#      programs (pkcs11-tool) preload the sanitizer runtime into them
#      (tests/helpers/sanitizer-preload.sh) or report themselves skipped.
#   5. builds build-fuzz/ with clang, libFuzzer, ASan and UBSan and runs each
#      fuzz target for 30 s from its seeds and saved crashes (suite fuzz).
# Ends with meson's summary of each run; exits non-zero if any test failed.
#
# usage: tests/run-all.sh [extra meson test arguments, e.g. --suite integration]
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
. tests/helpers/install-deps.sh
softse_install_deps

# setup DIR OPTIONS...: configure (or reconfigure) a build directory.
setup() {
    local dir=$1
    shift
    if [ -f "$dir/build.ninja" ]; then
        meson setup --reconfigure "$dir" "$@" >/dev/null
    else
        rm -rf "$dir"
        meson setup "$dir" "$@" >/dev/null
    fi
}

# run DIR NAME [meson test arguments]: build and test; meson's summary of
# the run (or the build failure) goes to DIR/NAME-summary.txt.
run() {
    local dir=$1 name=$2
    shift 2
    local summary=$dir/$name-summary.txt output=$dir/$name-output.txt
    rm -f "$summary"
    echo "== $dir: build"
    if ! ninja -C "$dir"; then
        echo "the build failed (see above)" >"$summary"
        return 1
    fi
    echo "== $dir: test${*:+ ($*)}"
    local status=0
    meson test -C "$dir" --print-errorlogs "$@" 2>&1 | tee "$output" || status=$?
    # the failing tests if any, then the counts, from the log meson wrote
    local log
    log=$(sed -n 's/^Full log written to //p' "$output" | tail -n 1)
    if [ -z "$log" ] || [ ! -f "$log" ]; then
        tail -n 8 "$output" >"$summary"
    elif grep -q '^Summary of Failures:' "$log"; then
        sed -n '/^Summary of Failures:/,$p' "$log" >"$summary"
    else
        sed -n '/^Ok: /,$p' "$log" >"$summary"
    fi
    return $status
}

verdict() {
    [ "$1" = 0 ] && echo PASS || echo FAIL
}

started=$SECONDS
setup build -Dwerror=true -Dtests=true
status_regular=0
run build tests --no-suite valgrind "$@" || status_regular=$?

status_valgrind=0
run build valgrind --suite valgrind "$@" || status_valgrind=$?

setup build-asan -Dwerror=true -Dtests=true -Db_sanitize=address,undefined -Db_lundef=false
status_asan=0
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:print_summary=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run build-asan tests --no-suite valgrind "$@" || status_asan=$?

status_fuzz=0
CC=clang setup build-fuzz -Dwerror=true -Dtests=true -Dfuzz=true -Db_sanitize=address,undefined \
    -Db_lundef=false
ASAN_OPTIONS=detect_leaks=1 run build-fuzz fuzz --suite fuzz "$@" || status_fuzz=$?

echo
echo "== done in $((SECONDS - started)) s"
echo "-- build/ (warnings are errors): $(verdict $status_regular)"
cat build/tests-summary.txt
echo "-- build/ under valgrind (suite valgrind): $(verdict $status_valgrind)"
cat build/valgrind-summary.txt
echo "-- build-asan/ (AddressSanitizer, UBSan, leak checks): $(verdict $status_asan)"
cat build-asan/tests-summary.txt
echo "-- build-fuzz/ (libFuzzer, 30 s per target): $(verdict $status_fuzz)"
cat build-fuzz/fuzz-summary.txt
[ $status_regular = 0 ] && [ $status_valgrind = 0 ] && [ $status_asan = 0 ] && [ $status_fuzz = 0 ]

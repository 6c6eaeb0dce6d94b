#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this):
#   1. installs missing Debian packages (as root; tests/helpers/install-deps.sh);
#   2. builds build/ with warnings as errors and runs every test;
#   3. builds build-asan/ with AddressSanitizer and UBSan and runs every
#      test again, leak checks on.  Shell tests that drive uninstrumented
#      programs (pkcs11-tool) preload the sanitizer runtime into them
#      (tests/helpers/sanitizer-preload.sh) or report themselves skipped.
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

# run DIR: build and test; the summary goes to DIR/summary.txt.
run() {
    local dir=$1
    shift
    echo "== $dir: build"
    ninja -C "$dir"
    echo "== $dir: test"
    local status=0
    meson test -C "$dir" --print-errorlogs "$@" || status=$?
    # meson's own summary: the failing tests if any, then the counts
    local log=$dir/meson-logs/testlog.txt
    if grep -q '^Summary of Failures:' "$log"; then
        sed -n '/^Summary of Failures:/,$p' "$log"
    else
        sed -n '/^Ok: /,$p' "$log"
    fi >"$dir/summary.txt"
    return $status
}

started=$SECONDS
setup build -Dwerror=true -Dtests=true
status_regular=0
run build "$@" || status_regular=$?

setup build-asan -Dwerror=true -Dtests=true -Db_sanitize=address,undefined -Db_lundef=false
status_asan=0
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:print_summary=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run build-asan "$@" || status_asan=$?

echo
echo "== done in $((SECONDS - started)) s"
echo "-- build/ (warnings are errors): $([ $status_regular = 0 ] && echo PASS || echo FAIL)"
cat build/summary.txt
echo "-- build-asan/ (AddressSanitizer, UBSan, leak checks): $([ $status_asan = 0 ] && echo PASS || echo FAIL)"
cat build-asan/summary.txt
[ $status_regular = 0 ] && [ $status_asan = 0 ]

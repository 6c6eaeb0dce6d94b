# Sourced by the softse-tool shell tests: a fresh store per test, the tool
# and module paths, pkcs11-tool with the sanitizer runtime preloaded when
# the module needs it, and small assertions.
#
# The test's environment (meson) gives SOFTSE_MODULE and SOFTSE_TOOL.
set -euo pipefail

: "${SOFTSE_MODULE:?SOFTSE_MODULE names softse-pkcs11.so (meson sets it)}"
: "${SOFTSE_TOOL:?SOFTSE_TOOL names softse-tool (meson sets it)}"
export SOFTSE_MODULE

work=$(mktemp -d "${TMPDIR:-/tmp}/softse-tool-test.XXXXXX")
if [ -z "${SOFTSE_TEST_KEEP:-}" ]; then
    trap 'rm -rf "$work"' EXIT
else
    echo "keeping $work"
fi
export SOFTSE_STORE=$work/store
export SOFTSE_PIN_KDF_ITERATIONS=1000
unset SOFTSE_CONF SOFTSE_SO_PIN SOFTSE_PIN
cd "$work"

SO_PIN=12345678
PIN=123456

# An ASan build of the module needs its runtime preloaded into pkcs11-tool.
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/sanitizer-preload.sh"
softse_sanitizer_preload "$SOFTSE_MODULE" || { echo "cannot preload the sanitizer runtime: skipped"; exit 77; }
preload=$SOFTSE_PRELOAD

tool() {
    "$SOFTSE_TOOL" "$@"
}
p11() {
    LD_PRELOAD=$preload pkcs11-tool --module "$SOFTSE_MODULE" "$@"
}
need() {
    command -v "$1" >/dev/null || { echo "$1 is not installed: skipped"; exit 77; }
}
# step, fail, expect_in TEXT PATTERN WHAT (grep -E pattern), expect_not_in
STEPS_EXTENDED=1
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/steps.sh"
# ok WHAT CMD...: runs CMD, which must succeed; its output is in $out.
ok() {
    local what=$1 rc=0
    shift
    out=$("$@" 2>&1) || rc=$?
    [ "$rc" -eq 0 ] || { echo "$out" >&2; fail "$what: exit status $rc"; }
}
# fails WHAT CMD...: runs CMD, which must fail (non-zero); output in $out,
# status in $status.
fails() {
    local what=$1
    shift
    status=0
    out=$("$@" 2>&1) || status=$?
    [ "$status" -ne 0 ] || { echo "$out" >&2; fail "$what: succeeded, expected a failure"; }
}
# A token with SO and user PINs: new_token LABEL
new_token() {
    ok "init $1" tool init --token "$1" --so-pin $SO_PIN --pin $PIN
}
# The serial of a token: serial_of LABEL
serial_of() {
    tool show --token "$1" | sed -n 's/.*serial \([0-9A-Fa-f]\{16\}\).*/\1/p' | head -1
}

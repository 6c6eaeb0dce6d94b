# Shared fixture for the consumer tests (sourced, not run).
#
# Every script gets: a private temp dir ($WORK) removed on exit, a fresh
# token store in it, fast PIN derivation, and helpers that make a failure
# loud and precise.  A step that fails is reported and counted, and the
# script goes on, so one run shows every broken consumer path; `finish`
# turns the count into the exit status.  Exit 77 tells meson "skipped".
#
# Environment (set by tests/consumers/meson.build):
#   SOFTSE_MODULE      path of softse-pkcs11.so (required)
#   SOFTSE_TEST_SPY    optional: a log file; route pkcs11-tool, p11tool and
#                      the OpenSSL engine through OpenSC's pkcs11-spy so
#                      every C_* call and its CKR lands in that file
#   SOFTSE_TEST_KEEP   optional: keep $WORK for inspection

set -euo pipefail

: "${SOFTSE_MODULE:?SOFTSE_MODULE must name softse-pkcs11.so}"
[ -r "$SOFTSE_MODULE" ] || { echo "FATAL: module not readable: $SOFTSE_MODULE" >&2; exit 1; }

SO_PIN=87654321
USER_PIN=123456
SPY_LIB=/usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so

WORK=$(mktemp -d "${TMPDIR:-/tmp}/softse-consumers.XXXXXX")
export SOFTSE_STORE="$WORK/store"
# The device root key beside the store, the same for every program of the
# test whatever its HOME (p11-kit.sh runs some with another one).
export SOFTSE_ROT_DIR="$WORK/rot"
mkdir -p "$SOFTSE_STORE"
export SOFTSE_PIN_KDF_ITERATIONS=1000
# A system-wide openssl.cnf that loads engines must not leak into a test.
export OPENSSL_CONF=/dev/null

# With an ASan/UBSan build of the module, the sanitizer would have to be
# preloaded into every consumer program, and then it reports the
# consumers' own bugs (OpenSC 0.23's pkcs11-tool --read-object --type
# pubkey reads freed memory) instead of testing softse.  These scripts run
# in the regular build; the module's memory safety is what the C tests
# check under ASan/UBSan and valgrind.
# (ldd's output is read whole first: with pipefail, grep -q exiting early
# would SIGPIPE ldd and make the test look uninstrumented at random.)
module_libs=$(ldd "$SOFTSE_MODULE" 2>/dev/null || true)
if grep -qE 'lib(asan|ubsan)\.so' <<<"$module_libs"; then
    echo "SKIP: consumer programs are not sanitizer-clean themselves; run in the regular build"
    exit 77
fi

# The module as consumers load it: softse itself, or the spy in front of it.
MODULE="$SOFTSE_MODULE"
if [ -n "${SOFTSE_TEST_SPY:-}" ] && [ -r "$SPY_LIB" ]; then
    export PKCS11SPY="$SOFTSE_MODULE" PKCS11SPY_OUTPUT="$SOFTSE_TEST_SPY"
    MODULE="$SPY_LIB"
fi

FAILURES=0
CLEANUP_HOOKS=()

cleanup() {
    local hook
    for hook in "${CLEANUP_HOOKS[@]}"; do
        eval "$hook" || true
    done
    if [ -n "${SOFTSE_TEST_KEEP:-}" ]; then
        echo "kept work dir: $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

on_exit() { CLEANUP_HOOKS+=("$1"); }

say() { printf '\n== %s\n' "$*"; }
note() { printf 'NOTE: %s\n' "$*"; }
skip_step() { printf 'SKIP (not a pass): %s\n' "$*"; }

# A step that fails: report it with what the command printed, count it.
fail() {
    FAILURES=$((FAILURES + 1))
    printf '\nFAIL: %s\n' "$1" >&2
    if [ -n "${2:-}" ] && [ -s "$2" ]; then
        sed 's/^/    | /' "$2" >&2
    fi
}

# The checks below never return non-zero (that would end the script under
# set -e); they record the outcome in LAST, which `passed` tests, so a
# step that depends on an earlier one reads: check ...; if passed; then ...
LAST=0
passed() { [ "$LAST" -eq 0 ]; }

# check DESCRIPTION COMMAND...: run; on non-zero exit, fail with its output.
# The output stays in $WORK/last.out for a following grep_out.
check() {
    local what=$1 status=0
    shift
    "$@" >"$WORK/last.out" 2>&1 || status=$?
    if [ $status -eq 0 ]; then
        printf 'ok: %s\n' "$what"
        LAST=0
    else
        fail "$what (exit $status; command: $*)" "$WORK/last.out"
        LAST=1
    fi
}

# must DESCRIPTION COMMAND...: a prerequisite; without it nothing after
# makes sense, so stop here.
must() {
    check "$@"
    if ! passed; then
        echo "FATAL: prerequisite failed, stopping" >&2
        exit 1
    fi
}

# expect_fail DESCRIPTION COMMAND...: the command must fail (policy checks).
expect_fail() {
    local what=$1
    shift
    if "$@" >"$WORK/last.out" 2>&1; then
        fail "$what: the command succeeded but must be refused (command: $*)" "$WORK/last.out"
        LAST=1
    else
        printf 'ok: %s (refused as expected)\n' "$what"
        LAST=0
    fi
}

# same_file DESCRIPTION A B: byte equality with a hex dump on mismatch.
same_file() {
    LAST=0
    if cmp -s "$2" "$3"; then
        printf 'ok: %s\n' "$1"
        return 0
    fi
    LAST=1
    {
        echo "expected ($2):"; xxd "$2" | head -8 || true
        echo "actual ($3):"; xxd "$3" | head -8 || true
    } >"$WORK/diff.out" 2>&1
    fail "$1: contents differ" "$WORK/diff.out"
}

# grep_out DESCRIPTION PATTERN: the last command's output must match.
grep_out() {
    if grep -Eq -- "$2" "$WORK/last.out"; then
        printf 'ok: %s\n' "$1"
        LAST=0
    else
        fail "$1: output does not match /$2/" "$WORK/last.out"
        LAST=1
    fi
}

need_tools() {
    local tool
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "SKIP: $tool is not installed"
            exit 77
        fi
    done
}

# p11() ARGS...: pkcs11-tool on our module.
p11() { pkcs11-tool --module "$MODULE" "$@"; }

# init_token LABEL: initialize the first blank slot's token and its user PIN.
init_token() {
    must "pkcs11-tool --init-token ($1)" \
        p11 --init-token --label "$1" --so-pin "$SO_PIN"
    must "pkcs11-tool --init-pin ($1)" \
        p11 --token-label "$1" --login --login-type so --so-pin "$SO_PIN" --init-pin --pin "$USER_PIN"
}

# rsa_ec_token LABEL: a token with an RSA-2048 key (id 01, "rsa-key") and
# an EC P-256 key (id 02, "ec-key") made by pkcs11-tool, their public keys
# exported to rsa.pem and ec.pem in the current directory.
rsa_ec_token() {
    say "token with an RSA and an EC key (made by pkcs11-tool)"
    init_token "$1"
    local user=(--token-label "$1" --login --pin "$USER_PIN")
    must "keypairgen rsa:2048" p11 "${user[@]}" --keypairgen --key-type rsa:2048 --id 01 --label rsa-key
    must "keypairgen EC:prime256v1" p11 "${user[@]}" --keypairgen --key-type EC:prime256v1 --id 02 --label ec-key
    must "export RSA public key" p11 --token-label "$1" --read-object --type pubkey --id 01 -o rsa.der
    must "export EC public key" p11 --token-label "$1" --read-object --type pubkey --id 02 -o ec.der
    openssl pkey -pubin -inform DER -in rsa.der -out rsa.pem
    openssl pkey -pubin -inform DER -in ec.der -out ec.pem
}

# ec_point_spki HEX_EC_POINT CURVE_OID_HEX OUT.der: a SubjectPublicKeyInfo
# from a CKA_EC_POINT (DER OCTET STRING or bare) and the curve's OID
# (content octets only).  For pkcs11-tool versions that cannot export a
# public key of some curve themselves.
ec_point_spki() {
    local hex=$1 oid=$2 out=$3 point
    case $hex in
        04[0-7][0-9a-f]04*) point=${hex:4} ;;  # OCTET STRING, short length
        0481??04*) point=${hex:6} ;;           # OCTET STRING, 0x81 length
        *) point=$hex ;;
    esac
    local alg alg_seq
    alg="06072a8648ce3d0201""06$(printf '%02x' $((${#oid} / 2)))$oid"  # id-ecPublicKey, curve
    alg_seq="30$(printf '%02x' $((${#alg} / 2)))$alg"
    local bits="00$point"
    local bitlen=$((${#bits} / 2))
    local bit_str
    if [ $bitlen -lt 128 ]; then bit_str="03$(printf '%02x' $bitlen)$bits"
    else bit_str="0381$(printf '%02x' $bitlen)$bits"; fi
    local body="$alg_seq$bit_str"
    local blen=$((${#body} / 2))
    if [ $blen -lt 128 ]; then printf '30%02x%s' $blen "$body" | xxd -r -p >"$out"
    else printf '3081%02x%s' $blen "$body" | xxd -r -p >"$out"; fi
}

finish() {
    if [ "$FAILURES" -ne 0 ]; then
        printf '\n%s: %d step(s) FAILED (see FAIL lines above)\n' "$(basename "$0")" "$FAILURES" >&2
        exit 1
    fi
    printf '\n%s: all steps passed\n' "$(basename "$0")"
}

#!/usr/bin/env bash
# OpenSC's pkcs11-tool drives softse-pkcs11.so end to end, one process per
# step, so that every step is also a restart: initialize the blank token,
# set the user PIN, log in, random, digests, a data object that survives,
# the mechanism list, and a user PIN locked after 10 wrong tries.
#
# usage: pkcs11-tool.sh /path/to/softse-pkcs11.so
set -euo pipefail

module=${1:?usage: $0 /path/to/softse-pkcs11.so}
command -v pkcs11-tool >/dev/null || { echo "pkcs11-tool (opensc) is not installed: skipped"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/softse-pkcs11-tool.XXXXXX")
trap 'rm -rf "$work"' EXIT
export SOFTSE_STORE=$work/store
export SOFTSE_PIN_KDF_ITERATIONS=1000
unset SOFTSE_CONF

# A sanitizer build of the module needs its runtime preloaded into pkcs11-tool.
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/sanitizer-preload.sh"
softse_sanitizer_preload "$module" || { echo "cannot preload the sanitizer runtime: skipped"; exit 77; }
preload=$SOFTSE_PRELOAD

SO_PIN=12345678
PIN=1234
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/steps.sh"

p11() {
    LD_PRELOAD=$preload pkcs11-tool --module "$module" "$@"
}
token_flags() {
    p11 --token-label t --list-token-slots 2>&1 | grep 'token flags' || true
}

step "a fresh store has one slot with an uninitialized token"
out=$(p11 --list-slots 2>&1)
expect_in "$out" "uninitialized" "--list-slots"
[ "$(grep -c '^Slot ' <<<"$out")" = 1 ] || fail "expected exactly one slot: $out"

step "initialize it"
out=$(p11 --init-token --label t --so-pin $SO_PIN 2>&1) || fail "--init-token: $out"
out=$(p11 --list-slots 2>&1)
expect_in "$out" "token label *: t$" "--list-slots after --init-token"
expect_in "$out" "token initialized" "--list-slots after --init-token"
expect_in "$out" "uninitialized" "a new blank slot after --init-token"
[ "$(grep -c '^Slot ' <<<"$out")" = 2 ] || fail "expected two slots: $out"
serial=$(awk '/serial num/ {print $4; exit}' <<<"$out")
[[ $serial =~ ^[0-9a-fA-F]{16}$ ]] || fail "serial \"$serial\" is not 16 hex digits"
[ -f "$SOFTSE_STORE/$serial.sqlite" ] || fail "no store file $SOFTSE_STORE/$serial.sqlite"

step "set the user PIN as the SO"
out=$(p11 --token-label t --init-pin --login --so-pin $SO_PIN --pin $PIN 2>&1) || fail "--init-pin: $out"
expect_in "$(token_flags)" "PIN initialized" "token flags after --init-pin"

step "log in and list the (no) objects"
out=$(p11 --token-label t --login --pin $PIN --list-objects 2>&1) || fail "--list-objects: $out"

step "random bytes"
p11 --token-label t --generate-random 32 -o "$work/r1" >/dev/null 2>&1 || fail "--generate-random"
p11 --token-label t --generate-random 32 -o "$work/r2" >/dev/null 2>&1 || fail "--generate-random"
[ "$(stat -c %s "$work/r1")" = 32 ] || fail "--generate-random 32 gave $(stat -c %s "$work/r1") bytes"
! cmp -s "$work/r1" "$work/r2" || fail "two random draws are equal"

step "digests match coreutils"
head -c 100000 /dev/urandom >"$work/message"
for pair in SHA-1:sha1sum SHA224:sha224sum SHA256:sha256sum SHA384:sha384sum SHA512:sha512sum; do
    mech=${pair%%:*} tool=${pair##*:}
    p11 --token-label t --hash -m "$mech" -i "$work/message" -o "$work/digest" >/dev/null 2>&1 ||
        fail "--hash -m $mech"
    got=$(od -An -v -tx1 "$work/digest" | tr -d ' \n')
    want=$($tool "$work/message" | cut -d' ' -f1)
    [ "$got" = "$want" ] || fail "--hash -m $mech: $got, $tool: $want"
    echo "   $mech ok"
done

step "write a public and a private data object"
echo "public payload" >"$work/public"
echo "private payload" >"$work/private"
out=$(p11 --token-label t --login --pin $PIN --write-object "$work/public" --type data \
    --label pubdata 2>&1) || fail "--write-object: $out"
out=$(p11 --token-label t --login --pin $PIN --write-object "$work/private" --type data \
    --label privdata --private 2>&1) || fail "--write-object --private: $out"
out=$(p11 --token-label t --login --pin $PIN --list-objects 2>&1) || fail "--list-objects: $out"
expect_in "$out" "pubdata" "--list-objects"
expect_in "$out" "privdata" "--list-objects"

step "they survive the process: read them back in new processes"
out=$(p11 --token-label t --list-objects 2>&1) || fail "--list-objects without login: $out"
expect_in "$out" "pubdata" "--list-objects without login"
expect_not_in "$out" "privdata" "--list-objects without login"
p11 --token-label t --login --pin $PIN --read-object --type data --label privdata \
    -o "$work/back" >/dev/null 2>&1 || fail "--read-object privdata"
cmp -s "$work/back" "$work/private" || fail "privdata reads back different"
p11 --token-label t --read-object --type data --label pubdata -o "$work/back" >/dev/null 2>&1 ||
    fail "--read-object pubdata"
cmp -s "$work/back" "$work/public" || fail "pubdata reads back different"

step "the mechanism list"
out=$(p11 --token-label t --list-mechanisms 2>&1) || fail "--list-mechanisms: $out"
expect_in "$out" "SHA256" "--list-mechanisms"
expect_in "$out" "SHA-1" "--list-mechanisms"

step "ten wrong user PINs lock the token, for every later process"
for try in 1 2 3 4 5 6 7 8 9 10; do
    if out=$(p11 --token-label t --login --pin 0000 --list-objects 2>&1); then
        fail "a wrong PIN was accepted (try $try)"
    fi
    expect_in "$out" "CKR_PIN_INCORRECT" "wrong PIN, try $try"
    flags=$(token_flags)
    case $try in
    9) expect_in "$flags" "final user PIN try" "token flags after $try failures" ;;
    10) expect_in "$flags" "user PIN locked" "token flags after $try failures" ;;
    *)
        expect_in "$flags" "user PIN count low" "token flags after $try failures"
        expect_not_in "$flags" "user PIN locked" "token flags after $try failures"
        ;;
    esac
done
if out=$(p11 --token-label t --login --pin $PIN --list-objects 2>&1); then
    fail "the right PIN was accepted on a locked token"
fi
expect_in "$out" "CKR_PIN_LOCKED" "right PIN on a locked token"
expect_in "$(token_flags)" "user PIN locked" "token flags in a later process"

step "the SO unlocks the user with a new PIN"
out=$(p11 --token-label t --init-pin --login --so-pin $SO_PIN --new-pin 5678 2>&1) ||
    fail "--init-pin after lockout: $out"
out=$(p11 --token-label t --login --pin 5678 --list-objects 2>&1) || fail "login with the new PIN: $out"
expect_in "$out" "privdata" "--list-objects with the new PIN"

echo "all $steps steps passed"

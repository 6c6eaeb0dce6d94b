#!/usr/bin/env bash
# softse end to end, the way an application sees it: builds the module if
# needed, then drives it with OpenSC's pkcs11-tool against a fresh token in
# the default store (~/.local/share/softse, or $XDG_DATA_HOME/softse; a
# SOFTSE_STORE or SOFTSE_CONF you have set is respected).  Every command is
# printed before it runs.  Each run makes a new token labelled
# demo-<date-time>; earlier tokens stay (delete their files to drop them).
#
# usage: demo/run.sh            (as root on a fresh Debian 12, installs what is missing)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
top=$PWD
. tests/helpers/install-deps.sh
softse_install_deps

module=$top/build/module/softse-pkcs11.so
if [ ! -f build/build.ninja ]; then
    echo "== building softse (meson setup build && ninja -C build)"
    meson setup build >/dev/null
fi
ninja -C build module/softse-pkcs11.so >/dev/null
echo "module: $module"

store=${SOFTSE_STORE:-${XDG_DATA_HOME:-$HOME/.local/share}/softse}
echo "store:  $store${SOFTSE_CONF:+ (unless $SOFTSE_CONF names another store_dir)}"

label=demo-$(date +%Y%m%d-%H%M%S)
so_pin=12345678
pin=123456
work=$(mktemp -d "${TMPDIR:-/tmp}/softse-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT

# p11 ARGS: print, then run pkcs11-tool on the module.
p11() {
    echo
    echo "\$ pkcs11-tool --module softse-pkcs11.so $*"
    pkcs11-tool --module "$module" "$@"
}
say() {
    echo
    echo "== $*"
}

say "the slots: one per token, then one with a blank token"
p11 --list-slots
blank=$(pkcs11-tool --module "$module" --list-slots 2>/dev/null |
    awk '/^Slot / {id = $3; gsub(/[():]/, "", id)} /token state: *uninitialized/ {print id}' | tail -n 1)
[ -n "$blank" ] || { echo "no blank slot found" >&2; exit 1; }

say "initialize the blank token as \"$label\" (SO PIN $so_pin), set the user PIN ($pin)"
p11 --slot "$blank" --init-token --label "$label" --so-pin $so_pin
p11 --token-label "$label" --init-pin --login --so-pin $so_pin --pin $pin
p11 --token-label "$label" --list-token-slots | sed -n "/token label *: $label\$/,/pin min/p"

say "a new blank slot appeared at the end"
p11 --list-slots | tail -n 2

say "random bytes from the token"
p11 --token-label "$label" --generate-random 16 -o "$work/random"
od -An -tx1 "$work/random"

say "a digest computed by the token, checked with sha256sum"
printf 'softse demo message\n' >"$work/message"
p11 --token-label "$label" --hash -m SHA256 -i "$work/message" -o "$work/digest"
echo "token:     $(od -An -v -tx1 "$work/digest" | tr -d ' \n')"
echo "sha256sum: $(sha256sum "$work/message" | cut -d' ' -f1)"

say "objects: a private data object and an EC P-256 key pair generated inside"
printf 'a secret note\n' >"$work/note"
p11 --token-label "$label" --login --pin $pin --write-object "$work/note" --type data \
    --label note --private
p11 --token-label "$label" --login --pin $pin --keypairgen --key-type EC:prime256v1 \
    --label demo-key --id 01

say "sign with the private key inside the token, verify with OpenSSL outside"
p11 --token-label "$label" --login --pin $pin --sign -m ECDSA-SHA256 --id 01 \
    -i "$work/message" -o "$work/signature" --signature-format openssl
p11 --token-label "$label" --read-object --type pubkey --id 01 -o "$work/public.der"
echo
echo "\$ openssl dgst -sha256 -verify public.pem -signature signature message"
openssl pkey -pubin -inform DER -in "$work/public.der" -out "$work/public.pem"
openssl dgst -sha256 -verify "$work/public.pem" -signature "$work/signature" "$work/message"

say "the objects, listed by a new process: public ones without login, all after login"
p11 --token-label "$label" --list-objects
p11 --token-label "$label" --login --pin $pin --list-objects

say "the mechanisms the token offers"
p11 --token-label "$label" --list-mechanisms

serial=$(pkcs11-tool --module "$module" --token-label "$label" --list-token-slots 2>/dev/null |
    sed -n "/token label *: $label\$/,/serial num/s/.*serial num *: *//p")
say "done: token \"$label\", serial $serial, stored in $store/$serial.sqlite"

say "part two: the vendor protocols (GKEA, in-card KI, SK3) as docs/protocols.md scripts them"
ninja -C build tools/softse-tool tools/issuer/softse-issuer >/dev/null
"$top/demo/protocols.sh"

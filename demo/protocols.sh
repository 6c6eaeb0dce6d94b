#!/usr/bin/env bash
# The second half of the demo: the three vendor protocols (GKEA, in-card
# KI derivation, SK3) run exactly as docs/protocols.md scripts them — this
# script executes that page's shell blocks in order, printing each command.
# The tokens go to a new store under the user's data directory
# (…/softse-demo/<date-time>), so the default store of the first half keeps
# only its one demo token per run.
#
# usage: demo/protocols.sh   (demo/run.sh calls it after building)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
top=$PWD
doc=$top/docs/protocols.md
# SOFTSE_BUILD: an already built build directory (the test suite's); else build/.
build=${SOFTSE_BUILD:-$top/build}
[ -n "${SOFTSE_BUILD:-}" ] ||
    ninja -C build module/softse-pkcs11.so tools/softse-tool tools/issuer/softse-issuer >/dev/null

data=${XDG_DATA_HOME:-$HOME/.local/share}
export SOFTSE_STORE=$data/softse-demo/$(date +%Y%m%d-%H%M%S)
mkdir -p "$SOFTSE_STORE"
# The protocols' working keys do more than one job (docs/protocols.md):
# plain PKCS#11 key usage, not the SE's strict key separation (README,
# "Key-management policy"); the docs-protocols test runs the same way.
export SOFTSE_KEY_SEPARATION=${SOFTSE_KEY_SEPARATION:-relaxed}
work=$(mktemp -d "${TMPDIR:-/tmp}/softse-protocols.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "store of the protocol demo: $SOFTSE_STORE"

# The page's shell blocks, with its conventions pointed at this checkout
# and at the store above instead of a temporary one.
script=$work/protocols.sh
{
    echo "set -euo pipefail"
    awk '/^```sh$/ {inside = 1; next} /^```$/ {inside = 0; next} inside {print}' "$doc" |
        sed -e "s|^export SOFTSE_MODULE=build/|export SOFTSE_MODULE=$build/|" \
            -e '/^export SOFTSE_STORE=/d' \
            -e "s|^T=build/|T=$build/|" \
            -e "s|^I=build/|I=$build/|"
} >"$script"

cd "$work"
# Each command is echoed (set -v) as the page shows it, then its output.
bash -v "$script"
echo
echo "== the three protocols ran as docs/protocols.md describes; tokens in $SOFTSE_STORE"

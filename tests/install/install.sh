#!/bin/bash
# `meson install` end to end (issue 19): the build installed under a
# temporary DESTDIR puts the module, the public header, the p11-kit
# registration and the system-wide configuration file where README
# ("Using the module", "Configuration") says; the installed header
# compiles; the installed module loads with the installed configuration
# file; p11-kit lists the installed module from the installed registration.
#
# usage: install.sh BUILD_DIR PREFIX LIBDIR INCLUDEDIR SYSCONFDIR P11KIT_MODULE_DIR BINDIR
set -euo pipefail
BUILD=$1 PREFIX=$2
abs() { case $1 in /*) echo "$1" ;; *) echo "$PREFIX/$1" ;; esac; }
LIBDIR=$(abs "$3") INCLUDEDIR=$(abs "$4") SYSCONFDIR=$(abs "$5") MODULE_DIR=$(abs "$6") BINDIR=$(abs "$7")
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/sanitizer-preload.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/softse-install.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
DEST=$WORK/dest
FAILURES=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; FAILURES=$((FAILURES + 1)); }
exists() {  # exists WHAT PATH
    if [ -f "$2" ]; then ok "$1: $2"; else fail "$1 is not at $2"; fi
}

echo "== meson install --destdir (no rebuild)"
meson install -C "$BUILD" --destdir "$DEST" --no-rebuild --quiet >"$WORK/install.log" 2>&1 ||
    { cat "$WORK/install.log" >&2; echo "FATAL: meson install failed" >&2; exit 1; }
ok "meson install into $DEST"

MODULE=$LIBDIR/softse/softse-pkcs11.so
HEADER=$INCLUDEDIR/softse/softse-pkcs11.h
REGISTRATION=$MODULE_DIR/softse.module
CONF=$SYSCONFDIR/softse/softse.conf
exists "the module" "$DEST$MODULE"
exists "the public header" "$DEST$HEADER"
exists "the p11-kit registration" "$DEST$REGISTRATION"
exists "the system-wide configuration" "$DEST$CONF"
exists "softse-tool" "$DEST$BINDIR/softse-tool"

echo "== what was installed is what it should be"
nm -D --defined-only "$DEST$MODULE" >"$WORK/symbols"
if grep -qw C_GetFunctionList "$WORK/symbols"; then
    ok "the module exports C_GetFunctionList"
else
    fail "the installed module does not export C_GetFunctionList"
fi
read -ra nss_cflags <<<"$(pkg-config --cflags nss)"
if printf '#include <pkcs11.h>\n#include <softse/softse-pkcs11.h>\nunsigned long m = CKM_SE_GKEA;\n' |
    cc -fsyntax-only "${nss_cflags[@]}" -I"$DEST$INCLUDEDIR" -x c - 2>"$WORK/cc.log"; then
    ok "the installed header compiles and defines CKM_SE_GKEA"
else
    fail "the installed header does not compile: $(cat "$WORK/cc.log")"
fi
if grep -qx "module: $MODULE" "$DEST$REGISTRATION"; then
    ok "the registration names the installed module ($MODULE)"
else
    fail "the registration does not name $MODULE: $(cat "$DEST$REGISTRATION")"
fi
if grep -Ev '^[[:space:]]*(#|$)' "$DEST$CONF" >"$WORK/active"; then
    fail "the installed configuration sets something: $(cat "$WORK/active")"
else
    ok "the installed configuration changes no default (every line a comment)"
fi
# (output read whole: with pipefail an early grep -q would SIGPIPE the writer)
strings "$DEST$MODULE" >"$WORK/strings"
if grep -qxF "$CONF" "$WORK/strings"; then
    ok "the module reads the system-wide file at $CONF"
else
    fail "the module does not name $CONF"
fi

echo "== the installed module runs with the installed configuration"
if ! softse_sanitizer_preload "$DEST$MODULE"; then
    echo "SKIP: the sanitizer runtime cannot be preloaded into uninstrumented programs"
    exit 77
fi
export SOFTSE_STORE=$WORK/store SOFTSE_ROT_DIR=$WORK/rot SOFTSE_CONF=$DEST$CONF
mkdir -p "$SOFTSE_STORE"
if command -v pkcs11-tool >/dev/null 2>&1; then
    if LD_PRELOAD=$SOFTSE_PRELOAD pkcs11-tool --module "$DEST$MODULE" --list-slots >"$WORK/slots" 2>&1 &&
        grep -q "token state: *uninitialized" "$WORK/slots"; then
        ok "pkcs11-tool loads the installed module (a blank token)"
    else
        fail "pkcs11-tool on the installed module: $(cat "$WORK/slots")"
    fi
fi

echo "== p11-kit lists the installed module"
# The installed registration, in a private p11-kit user configuration,
# with its module path moved into DESTDIR.  p11-kit ignores user
# configuration for root: as root p11-kit runs in a user namespace.
CONF_HOME=$WORK/home
mkdir -p "$CONF_HOME/.config/pkcs11/modules"
echo "user-config: only" >"$CONF_HOME/.config/pkcs11/pkcs11.conf"
sed "s#^module: #module: $DEST#" "$DEST$REGISTRATION" >"$CONF_HOME/.config/pkcs11/modules/softse.module"
as_user() { HOME="$CONF_HOME" XDG_CONFIG_HOME="$CONF_HOME/.config" LD_PRELOAD=$SOFTSE_PRELOAD "$@"; }
if [ "$(id -u)" -eq 0 ]; then
    as_user() { HOME="$CONF_HOME" XDG_CONFIG_HOME="$CONF_HOME/.config" LD_PRELOAD=$SOFTSE_PRELOAD unshare --user "$@"; }
    unshare --user true 2>/dev/null || { echo "SKIP: root without user namespaces: p11-kit ignores user configuration"; exit 77; }
fi
if ! command -v p11-kit >/dev/null 2>&1; then
    echo "SKIP: p11-kit is not installed"
    exit 77
fi
if as_user p11-kit list-modules >"$WORK/modules" 2>&1 && grep -q '^softse: ' "$WORK/modules" &&
    grep -q "library-description: softse" "$WORK/modules"; then
    ok "p11-kit list-modules shows the installed softse module"
else
    fail "p11-kit list-modules: $(cat "$WORK/modules")"
fi

[ "$FAILURES" -eq 0 ] || { echo "install.sh: $FAILURES check(s) FAILED" >&2; exit 1; }
echo "install.sh: all checks passed"

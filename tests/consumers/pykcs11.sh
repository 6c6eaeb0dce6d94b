#!/bin/bash
# PyKCS11 (Debian python3-pykcs11) with the `cryptography` package
# (python3-cryptography), issue 19: pykcs11.py generates key pairs on the
# token, signs, and verifies the signatures in software.
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
# Debian's python3 (a python3 earlier in PATH may lack Debian's packages).
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=$(command -v python3 || true)
if [ -z "$PYTHON" ] || ! "$PYTHON" -c 'import PyKCS11, cryptography' 2>/dev/null; then
    echo "SKIP: PyKCS11 or cryptography is missing (Debian: python3-pykcs11 python3-cryptography)"
    exit 77
fi
need_tools pkcs11-tool
cd "$WORK"

TOKEN=pykcs11
say "token"
init_token "$TOKEN"

say "PyKCS11"
check "pykcs11.py" "$PYTHON" "$HERE/pykcs11.py" "$MODULE" "$TOKEN" "$USER_PIN"
passed && cat "$WORK/last.out"

finish

#!/usr/bin/env bash
# The Debian packages softse needs to build, test and demonstrate, and one
# function that installs the missing ones.  Run it, or source it and call
# softse_install_deps (tests/run-all.sh, .ci/run and demo/run.sh do).
#
# Nothing happens when everything is present.  As root on Debian the
# missing packages are installed (one apt-get update first); otherwise
# the missing ones are listed and the function fails.

SOFTSE_PACKAGES=(
    meson ninja-build pkg-config gcc clang
    libnss3-dev libssl-dev libsqlite3-dev libcmocka-dev libp11-kit-dev
    opensc p11-kit softhsm2 gnutls-bin libnss3-tools libengine-pkcs11-openssl
    sqlite3 valgrind libclang-rt-14-dev
    libtss2-dev swtpm swtpm-tools libtss2-tcti-swtpm0
    openssh-client openjdk-17-jdk-headless python3-pykcs11 python3-cryptography
)

softse_install_deps() {
    if ! command -v dpkg-query >/dev/null 2>&1; then
        echo "install-deps: not a Debian system; make sure these (or their equivalents) are installed:"
        echo "  ${SOFTSE_PACKAGES[*]}"
        return 0
    fi
    local missing=() package
    for package in "${SOFTSE_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$package")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    if [ "$(id -u)" != 0 ]; then
        echo "install-deps: missing packages: ${missing[*]}" >&2
        echo "install-deps: run as root, or: sudo apt-get install ${missing[*]}" >&2
        return 1
    fi
    echo "install-deps: installing ${missing[*]}"
    apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    softse_install_deps
fi

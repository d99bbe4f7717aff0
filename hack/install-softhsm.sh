#!/usr/bin/env bash
# Install SoftHSM2 (Debian package softhsm2: the PKCS#11 module and softhsm2-util) where it is missing.
# Idempotent: does nothing when softhsm2-util and the module are already there. Needs root (or sudo) to install.
# Prints the path of the PKCS#11 module, which the tests and the docs use as the library path.
set -euo pipefail

find_module() {
    local candidate
    for candidate in \
        /usr/lib/softhsm/libsofthsm2.so \
        /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
        /usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so \
        /usr/lib64/pkcs11/libsofthsm2.so \
        /usr/local/lib/softhsm/libsofthsm2.so; do
        if [[ -e $candidate ]]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

if command -v softhsm2-util >/dev/null && find_module >/dev/null; then
    find_module
    exit 0
fi

if ! command -v apt-get >/dev/null; then
    echo "install-softhsm: SoftHSM2 is missing and this is not a Debian-like system;" \
        "install it with your package manager (softhsm2 / softhsm) and run again" >&2
    exit 1
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then
    if ! command -v sudo >/dev/null; then
        echo "install-softhsm: SoftHSM2 is missing; run as root: apt-get install softhsm2" >&2
        exit 1
    fi
    sudo=(sudo)
fi
# Other jobs on the machine may hold the dpkg lock for a while: wait for it rather than fail.
"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    softhsm2 >/dev/null
find_module

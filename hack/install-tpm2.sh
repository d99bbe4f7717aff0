#!/usr/bin/env bash
# Install tpm2-pkcs11 on a software TPM where it is missing: the Debian 12 packages swtpm and swtpm-tools (the
# software TPM), tpm2-abrmd and libtss2-tcti-tabrmd0 (the resource manager, on a private D-Bus session bus: dbus),
# tpm2-tools, libtpm2-pkcs11-1 (the PKCS#11 module) and libtpm2-pkcs11-tools (tpm2_ptool, which makes the store).
# No opensc: the tests initialise the token with the module's own C_InitToken and C_InitPIN (tests/pkcs11/tokens.py).
# Idempotent: does nothing when every program and the module are already there. Needs root (or sudo) to install.
# Prints the path of the PKCS#11 module, which the tests use as the library path.
set -euo pipefail

packages=(swtpm swtpm-tools tpm2-tools libtpm2-pkcs11-1 libtpm2-pkcs11-tools tpm2-abrmd libtss2-tcti-tabrmd0 dbus)
programs=(swtpm tpm2-abrmd tpm2_ptool dbus-daemon tpm2_startup)

find_module() {
    local candidate
    for candidate in \
        /usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so \
        /usr/lib/aarch64-linux-gnu/pkcs11/libtpm2_pkcs11.so \
        /usr/lib64/pkcs11/libtpm2_pkcs11.so \
        /usr/lib/pkcs11/libtpm2_pkcs11.so \
        /usr/local/lib/pkcs11/libtpm2_pkcs11.so; do
        if [[ -e $candidate ]]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

# tpm2-abrmd is in /usr/sbin, which a user's PATH may lack.
have_programs() {
    local program
    for program in "${programs[@]}"; do
        PATH="$PATH:/usr/sbin:/sbin" command -v "$program" >/dev/null || return 1
    done
    # The tabrmd TCTI that the module and tpm2_ptool load to reach tpm2-abrmd.
    [[ $(PATH="$PATH:/usr/sbin:/sbin" ldconfig -p 2>/dev/null) == *libtss2-tcti-tabrmd.so* ]]
}

if have_programs && find_module >/dev/null; then
    find_module
    exit 0
fi

if ! command -v apt-get >/dev/null; then
    echo "install-tpm2: tpm2-pkcs11 or the software TPM is missing and this is not a Debian-like system; install" \
        "${packages[*]} (or your distribution's equivalents) and run again" >&2
    exit 1
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then
    if ! command -v sudo >/dev/null; then
        echo "install-tpm2: tpm2-pkcs11 or the software TPM is missing; run as root: apt-get install ${packages[*]}" >&2
        exit 1
    fi
    sudo=(sudo)
fi
# Other jobs on the machine may hold the dpkg lock for a while: wait for it rather than fail.
"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    "${packages[@]}" >/dev/null
find_module

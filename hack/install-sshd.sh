#!/usr/bin/env bash
# Install the OpenSSH server (Debian package openssh-server) where it is missing, for the tests that reach hosts over
# the ssh connection (tests/rotation/test_ssh.py starts its own sshd on 127.0.0.1 with a configuration of its own;
# the system's ssh service is not started or changed). Idempotent. Needs root (or sudo) to install. Prints sshd's path.
set -euo pipefail

if [[ -x /usr/sbin/sshd ]]; then
    echo /usr/sbin/sshd
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "install-sshd: sshd is missing and this is not a Debian-like system; install the OpenSSH server" \
        "with your package manager and run again" >&2
    exit 1
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then
    if ! command -v sudo >/dev/null; then
        echo "install-sshd: sshd is missing; run as root: apt-get install openssh-server" >&2
        exit 1
    fi
    sudo=(sudo)
fi
"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
# RUNLEVEL=1: invoke-rc.d does not start the system's ssh service.
DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends openssh-server openssh-client >/dev/null
echo /usr/sbin/sshd

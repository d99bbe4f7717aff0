# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An OpenSSH server of the tests' own on 127.0.0.1: its host key, its client key, its configuration, a free port.

hack/install-sshd.sh installs the package where it is missing; the system's ssh service is neither started nor
changed. The server accepts the generated client key for the user running the tests, and nothing else.
"""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
import time
from pathlib import Path
import typing as t
from typing import Dict, Optional

from fleet import COLLECTION_ROOT, kill_tree


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sshd:
    """A running sshd; ``inventory_vars()`` are the host variables that reach it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        self.user = getpass.getuser()
        self.client_key = root / "client_key"
        self.process = None  # type: Optional[subprocess.Popen]
        self._log = None  # type: t.Optional[t.BinaryIO]
        self.binary = subprocess.run([str(COLLECTION_ROOT / "hack" / "install-sshd.sh")], check=True, capture_output=True,
                                     text=True).stdout.strip().splitlines()[-1]

    def start(self) -> "Sshd":
        """Generate the keys and the configuration, start sshd, and wait until it answers."""
        root = self.root
        root.mkdir(parents=True, exist_ok=True)
        for name in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / name)], check=True)
        (root / "authorized_keys").write_text((root / "client_key.pub").read_text(encoding="utf-8"), encoding="utf-8")
        (root / "authorized_keys").chmod(0o600)
        config = root / "sshd_config"
        config.write_text("\n".join([
            "Port %d" % self.port,
            "ListenAddress 127.0.0.1",
            "HostKey %s" % (root / "host_key"),
            "AuthorizedKeysFile %s" % (root / "authorized_keys"),
            "PidFile %s" % (root / "sshd.pid"),
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            "AllowUsers %s" % self.user,
            "UsePAM no",
            "StrictModes no",
            "Subsystem sftp internal-sftp",
            "",
        ]), encoding="utf-8")
        # sshd's privilege separation directory; the system's sshd makes it at boot.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self._log = open(root / "sshd.log", "wb")  # pylint: disable=consider-using-with
        self.process = subprocess.Popen([self.binary, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL,  # pylint: disable=consider-using-with
                                        stderr=self._log, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("sshd exited: %s" % (root / "sshd.log").read_text(encoding="utf-8", errors="replace"))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(64).startswith(b"SSH-"):
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("sshd did not answer on port %d" % self.port)

    def stop(self) -> None:
        """Stop sshd and every session it started."""
        if self.process is not None:
            kill_tree(self.process)
            self.process.wait(timeout=30)
            if self._log is not None:
                self._log.close()

    def inventory_vars(self) -> Dict[str, str]:
        """Host variables for an inventory host reached through this server."""
        return {
            "ansible_connection": "ssh",
            "ansible_host": "127.0.0.1",
            "ansible_port": str(self.port),
            "ansible_user": self.user,
            "ansible_ssh_private_key_file": str(self.client_key),
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes",
            # The host's own Python, not the controller's virtual environment: a module run on the host must not
            # depend on what the controller has installed.
            "ansible_python_interpreter": "/usr/bin/python3",
        }

    def env(self) -> Dict[str, str]:
        """Environment for ansible-playbook: no agent, no user configuration of ssh."""
        env = dict(os.environ)
        env.pop("SSH_AUTH_SOCK", None)
        return env

# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The jwt_rotation role with jwt_rotation_key_backend=pkcs11, on two local hosts, against each implementation and the emulator.

Setup, a forced rotation (the previous key kept), the next run (every host verified: the previous key retired and
its pair destroyed), then a converged run that changes and writes nothing. The token and PIN come from IZUMA_PKCS11_*.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
import yaml
from izuma_emulator.testing import start_in_thread

from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import key_pairs as _pkcs11_keys

from conftest import COLLECTION_ROOT, fresh_session, pkcs11_env
from test_leftovers import files_with_private_keys

BIN = Path(sys.executable).parent
KEY = "role-hsm-signing"
HOSTS = ("role-1", "role-2")


@pytest.fixture(scope="module")
def emulator() -> t.Iterator[t.Any]:
    server = start_in_thread()
    yield server
    server.stop()


def write_play(work: Path, curve: str) -> t.Tuple[Path, Path]:
    inventory = work / "hosts.ini"
    inventory.write_text("[fleet]\n" + "".join("%s ansible_connection=local ansible_python_interpreter=%s\n" % (host, sys.executable)
                                               for host in HOSTS), encoding="utf-8")
    play = work / "role.yml"
    play.write_text(yaml.safe_dump([{
        "name": "jwt_rotation with a PKCS#11 key source", "hosts": "fleet", "gather_facts": False,
        "vars": {"jwt_rotation_key_backend": "pkcs11", "jwt_rotation_key_dir": str(work / "keys"),
                 "jwt_rotation_token_dir": str(work / "hosts") + "/{{ inventory_hostname }}",
                 "jwt_rotation_grace_period": 3600, "jwt_rotation_token_lifetime": 3600,
                 "jwt_rotation_applications": [{"name": "role-hsm", "hosts": ["fleet"], "key_type": "EC", "curve": curve,
                                                "token_renew_margin": 600}]},
        "roles": ["izuma.device_management.jwt_rotation"]}]), encoding="utf-8")
    return inventory, play


def run(hsm: t.Any, emulator: t.Any, work: Path, *args: str) -> int:
    """One run of the role; the changes of its recap, summed over the hosts."""
    inventory, play = write_play(work, t.cast(str, hsm.profile.spec(("EC", None, "P-384"))[2]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTION_ROOT.parents[2]), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=str(work / "ansible-tmp"), ANSIBLE_HOME=str(work / "ansible-home"),
               ANSIBLE_LOCALHOST_WARNING="false", IZUMA_API_HOST=emulator.url, IZUMA_API_KEY=emulator.admin_key,
               **pkcs11_env(hsm))
    process = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory), str(play), *args], capture_output=True,
                             text=True, env=env, timeout=900, check=False)
    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-6000:]
    assert hsm.pin not in output and "PRIVATE KEY" not in output
    return sum(int(n) for n in re.findall(r"\bchanged=(\d+)", output.split("PLAY RECAP", 1)[-1]))


def held(hsm: t.Any) -> t.List[str]:
    """The generations of the role's key in the token, as a new login sees them (the playbook's modules wrote them)."""
    token = fresh_session(hsm)
    return [generation for generation in ("current", "next", "previous")
            if _pkcs11_keys.find_key_pair(token, _pkcs11_keys.key_label(KEY, generation)) is not None]


def test_the_role_rotates_a_key_that_lives_in_the_token(hsm, emulator, tmp_path) -> None:
    emulator.reset()
    assert run(hsm, emulator, tmp_path) > 0
    assert held(hsm) == ["current"]
    tokens = {host: (tmp_path / "hosts" / host / "role-hsm.jwt").read_text() for host in HOSTS}

    assert run(hsm, emulator, tmp_path, "-e", "jwt_rotation_force=true", "-e", "jwt_rotation_early_retire=false") > 0
    assert held(hsm) == ["current", "previous"]
    assert all((tmp_path / "hosts" / host / "role-hsm.jwt").read_text() != tokens[host] for host in HOSTS)

    # Every host holds a verified token of the new key: the previous key goes early, from the application and the token.
    assert run(hsm, emulator, tmp_path) > 0
    assert held(hsm) == ["current"]

    emulator.clear_log()
    assert run(hsm, emulator, tmp_path) == 0 and emulator.writes() == []
    assert files_with_private_keys([tmp_path]) == []
    assert not any(name.endswith(".key") for name in os.listdir(tmp_path / "keys"))

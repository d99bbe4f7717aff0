# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/hsm.yml, the end to end story of issue 12, against each PKCS#11 implementation and the emulator.

Run 1 creates the application and the key inside the token, signs tokens with the module and the lookup and calls
the API with them; run 2 (hsm_rotate=true) rotates, signs and calls again, and retires the previous key; run 3
changes nothing and writes nothing. No private key is ever on disk: every file the runs leave is scanned.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
import requests
from izuma_emulator.testing import start_in_thread

from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import key_pairs as _pkcs11_keys

from conftest import COLLECTION_ROOT, fresh_session, pkcs11_env
from test_leftovers import files_with_private_keys

BIN = Path(sys.executable).parent
PLAYBOOK = COLLECTION_ROOT / "playbooks" / "hsm.yml"
KEY = "hsm-telemetry-signing"


@pytest.fixture(scope="module")
def emulator() -> t.Iterator[t.Any]:
    server = start_in_thread()
    yield server
    server.stop()


def play(hsm: t.Any, emulator: t.Any, work: Path, *args: str) -> t.Tuple[str, int]:
    """One run of the playbook; its output and the changes of its recap."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTION_ROOT.parents[2]), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
               ANSIBLE_LOCAL_TEMP=str(work / "ansible-tmp"), ANSIBLE_HOME=str(work / "ansible-home"),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, IZUMA_HSM_DIR=str(work / "hsm"),
               IZUMA_API_HOST=emulator.url, IZUMA_API_KEY=emulator.admin_key, **pkcs11_env(hsm))
    process = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", str(PLAYBOOK), *args], capture_output=True,
                             text=True, env=env, timeout=600, check=False)
    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-6000:]
    assert hsm.pin not in output and "PRIVATE KEY" not in output
    assert not re.search(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.", output), "a token was printed"
    assert "IZUMA_API_KEY is set in the environment but not used" not in output, "an access key reached the JWT task"
    return output, sum(int(n) for n in re.findall(r"\bchanged=(\d+)", output.split("PLAY RECAP", 1)[-1]))


def application_id(emulator: t.Any) -> str:
    found = requests.get(emulator.url + "/v3/applications", timeout=30, headers={"Authorization": "Bearer " + emulator.admin_key})
    return [item for item in found.json()["data"] if item["name"] == "hsm-telemetry"][0]["id"]


def uploaded(emulator: t.Any) -> t.Dict[str, str]:
    """The application's keys: name -> public-key fingerprint (through the collection's own reading of them)."""
    from ansible_collections.izuma.device_management.plugins.module_utils._verification_key import state  # pylint: disable=import-outside-toplevel
    from ansible_collections.izuma.device_management.plugins.module_utils._api import IzumaClient  # pylint: disable=import-outside-toplevel
    from ansible_collections.izuma.device_management.plugins.module_utils._api_config import ClientConfig  # pylint: disable=import-outside-toplevel
    client = IzumaClient(ClientConfig(api_host=emulator.url, api_key=emulator.admin_key, retries=0))
    application = [item for item in client.list("/v3/applications") if item["name"] == "hsm-telemetry"][0]
    return {item["name"]: item["public_key_fingerprint"] for item in state.list_keys(client, application["id"])}


def held(hsm: t.Any) -> t.Dict[str, str]:
    """The generations of the playbook's key in the token, as a new login sees them (the playbook's modules wrote them)."""
    token = fresh_session(hsm)
    found = {}
    for generation in ("current", "next", "previous"):
        pair = _pkcs11_keys.find_key_pair(token, _pkcs11_keys.key_label(KEY, generation))
        if pair is not None:
            described = pair.describe()
            assert described["sensitive"] and not described["extractable"] and described["never_extractable"]
            found[generation] = described["public_key_fingerprint"]
    return found


def jwt_calls(emulator: t.Any) -> int:
    return sum(1 for entry in emulator.log() if entry.get("auth") == "jwt" and entry.get("status") == 200)


def test_the_hsm_playbook_from_first_run_to_converged(hsm, emulator, tmp_path) -> None:
    emulator.reset()
    output, changed = play(hsm, emulator, tmp_path)
    first = held(hsm)
    assert changed > 0 and list(first) == ["current"] and uploaded(emulator) == {KEY: first["current"]}
    # The module's token (its own check and the call), the lookup's token and the client's own JWT authentication
    # (izuma_application_info, signed by the token key, no access key) were accepted by the API.
    assert jwt_calls(emulator) == 4
    token_file = tmp_path / "hsm" / "collector-1.jwt"
    old_token = token_file.read_text().strip()

    emulator.clear_log()
    output, changed = play(hsm, emulator, tmp_path, "-e", "hsm_rotate=true")
    second = held(hsm)
    assert changed > 0 and list(second) == ["current"] and second["current"] != first["current"], output[-3000:]
    assert uploaded(emulator) == {KEY: second["current"]}, "the previous key was not retired"
    assert jwt_calls(emulator) == 4 and token_file.read_text() != old_token
    app_id = application_id(emulator)
    refused = requests.get(emulator.url + "/v3/applications/" + app_id, timeout=30,
                           headers={"Authorization": "Bearer " + old_token, "X-Application-ID": app_id})
    assert refused.status_code == 401, "a token of the retired key still works"

    emulator.clear_log()
    output, changed = play(hsm, emulator, tmp_path)
    assert changed == 0 and emulator.writes() == [], output[-3000:]
    assert held(hsm) == second and jwt_calls(emulator) == 4

    assert files_with_private_keys([tmp_path]) == []
    assert sorted(os.listdir(tmp_path / "hsm")) == ["collector-1.jwt", KEY + ".crt"]

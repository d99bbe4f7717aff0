# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A job with the "Izuma PKCS#11 token" AWX credential: its injected environment alone reaches the token.

The injectors are rendered as AWX renders them (Jinja2, sandboxed; an input left empty becomes ''), as
tests/rotation/test_runner.py does for the API credential; the task names only its key.
"""

from __future__ import annotations

import typing as t
import urllib.parse
from pathlib import Path

import jinja2.sandbox
import jwt
import yaml

from conftest import COLLECTION_ROOT, spec_label
from playbooks import assert_no_secret, recap, run_playbook

CREDENTIAL_TYPE = COLLECTION_ROOT / "extensions" / "awx" / "credential_type_izuma_pkcs11.yml"


def injected(inputs: t.Mapping[str, str]) -> t.Dict[str, str]:
    """The environment AWX gives a job with a credential of this type."""
    credential_type = yaml.safe_load(CREDENTIAL_TYPE.read_text(encoding="utf-8"))
    environment = jinja2.sandbox.ImmutableSandboxedEnvironment()
    namespace = {field["id"]: inputs.get(field["id"], "") for field in credential_type["inputs"]["fields"]}
    return {name: environment.from_string(template).render(**namespace) for name, template in credential_type["injectors"]["env"].items()}


def test_a_job_with_the_pkcs11_credential_signs_in_the_token(hsm, pairs, tmp_path: Path) -> None:
    spec = ("EC", None, "P-256")
    env = injected({"library": hsm.module, "token": "pkcs11:token=%s" % urllib.parse.quote(hsm.label), "pin": hsm.pin})
    assert env["IZUMA_PKCS11_SERIAL"] == ""
    env.update(hsm.env)  # what the module itself needs (SOFTHSM2_CONF, the TPM's D-Bus address): the worker's environment
    dest = tmp_path / "host.jwt"
    tasks = [{"name": "Token", "izuma.device_management.izuma_jwt": {
        "pkcs11_key_label": spec_label(spec), "dest": str(dest), "subject": "awx"}}]
    status, output = run_playbook(tmp_path / "job", tasks, env, "-vvv")
    assert status == 0 and recap(output)[1] == 1, output[-4000:]
    assert jwt.decode(dest.read_text(encoding="ascii").strip(), pairs[spec].public_key(), algorithms=["ES256"])["sub"] == "awx"
    assert_no_secret(output, hsm.pin)

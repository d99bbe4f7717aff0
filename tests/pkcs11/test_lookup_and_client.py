# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The izuma_jwt lookup and the API client's JWT authentication with keys in a token, through ansible-playbook.

The lookup's tokens call the emulator (ansible.builtin.uri) and verify with the uploaded certificate alone (PyJWT);
a module authenticates to the emulator as an application whose key is in the token (auth_pkcs11_*).
"""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import jwt
import pytest
from izuma_emulator.testing import start_in_thread

from ansible_collections.izuma.device_management.plugins.module_utils._x509 import certificates as _certificates

from conftest import pkcs11_env, spec_id, spec_label as label
from playbooks import Api, assert_no_secret, recap, run_playbook


def cases(hsm: t.Any) -> t.List[t.Tuple[t.Any, str]]:
    """One algorithm of each family the token signs (RSA-PSS on the larger RSA key where it has it), every curve."""
    larger = hsm.profile.spec(("RSA", 3072, None), ("RSA", 4096, None))
    return ([(("RSA", 2048, None), "RS256"), (larger, "PS512" if hsm.profile.signs("PS512") else "RS512")]
            + [(spec, hsm.profile.algorithms(spec)[0]) for spec in hsm.profile.key_specs if spec[0] == "EC"])


@pytest.fixture(scope="module")
def api() -> t.Iterator[Api]:
    """An emulator in a thread of this process."""
    emulator = start_in_thread()
    yield Api(emulator)
    emulator.stop()


def test_lookup_tokens_call_the_api_and_verify_with_the_certificate(hsm, pairs, api, tmp_path: Path) -> None:
    signed = cases(hsm)
    applications = {spec: api.application_with_key("pkcs11-lookup-" + spec_id(spec), pairs[spec])
                    for spec in dict.fromkeys(spec for spec, _algorithm in signed)}
    out = tmp_path / "tokens.json"
    tasks = []
    for spec, algorithm in signed:
        application_id = applications[spec][0]
        query = ("{{ query('izuma.device_management.izuma_jwt', 'a', 'b', 'a', pkcs11_key_label='%s', algorithm='%s', "
                 "lifetime=300) }}" % (label(spec), algorithm))
        tasks.append({"name": "Tokens %s" % algorithm, "no_log": True, "ansible.builtin.set_fact": {"tokens_%s" % algorithm: query}})
        tasks.append({"name": "Call %s" % algorithm, "no_log": True, "ansible.builtin.uri": {
            "url": "%s/v3/applications/%s" % (api.url, application_id), "use_proxy": False,
            "headers": {"Authorization": "Bearer {{ tokens_%s[0] }}" % algorithm, "X-Application-ID": application_id}}})
    tasks.append({"name": "Keep the tokens for the test", "no_log": True, "ansible.builtin.copy": {
        "dest": str(out), "mode": "0600",
        "content": "{{ {%s} | to_json }}" % ", ".join("'%s': tokens_%s" % (algorithm, algorithm) for _spec, algorithm in signed)}})
    api.emulator.clear_log()
    # The library, token and PIN from the lookup's variables this time (the environment is tested with izuma_jwt).
    extra = {"izuma_jwt_pkcs11_library": hsm.module, "izuma_jwt_pkcs11_token": hsm.label, "izuma_jwt_pkcs11_pin": hsm.pin}
    (tmp_path / "vars.json").write_text(json.dumps(extra), encoding="utf-8")
    # Only what the module itself needs in the environment (SOFTHSM2_CONF, the TPM's D-Bus address).
    status, output = run_playbook(tmp_path / "run", tasks, hsm.env, "-e", "@%s" % (tmp_path / "vars.json"), "-vvv")
    assert status == 0, output[-6000:]
    tokens = json.loads(out.read_text(encoding="ascii"))
    for spec, algorithm in signed:
        first, second, again = tokens[algorithm]
        # Same call, same token (the lookup's token cache); another subject, another token.
        assert first == again and first != second
        certificate = _certificates.load_certificate(applications[spec][1])
        assert jwt.decode(first, certificate.public_key(), algorithms=[algorithm])["sub"] == "a"
        assert jwt.decode(second, certificate.public_key(), algorithms=[algorithm])["sub"] == "b"
    calls = [entry for entry in api.emulator.log() if entry["auth"] == "jwt"]
    assert len(calls) == len(signed) and all(entry["status"] == 200 for entry in calls), calls
    assert_no_secret(output, hsm.pin)


def test_a_module_authenticates_with_a_jwt_signed_in_the_token(hsm, pairs, api, tmp_path: Path) -> None:
    spec = hsm.profile.spec(("EC", None, "P-384"))
    automation, _pem = api.application_with_key("pkcs11-automation", pairs[spec], groups=["Administrators"])
    other, _pem = api.application_with_key("pkcs11-listed", pairs[("EC", None, "P-256")])
    auth = {"api_host": api.url, "auth_application_id": automation, "auth_pkcs11_key_label": label(spec),
            "auth_jwt_algorithm": hsm.profile.algorithms(spec)[0]}
    tasks = [{"name": "List as the automation application", "izuma.device_management.izuma_application_info": dict(auth, name="pkcs11-listed"),
              "register": "listed"},
             {"name": "Check", "ansible.builtin.assert": {"that": ["listed.applications | map(attribute='id') | list == ['%s']" % other]}}]
    env = pkcs11_env(hsm)
    api.emulator.clear_log()
    status, output = run_playbook(tmp_path / "run", tasks, env, "-vvv")
    assert status == 0, output[-6000:]
    requests_made = [entry for entry in api.emulator.log() if not entry["path"].startswith("/_emulator")]
    assert requests_made and all(entry["auth"] == "jwt" and entry["application_id"] == automation for entry in requests_made), requests_made
    assert_no_secret(output, hsm.pin)

    # A wrong PIN: a clear failure before any request.
    api.emulator.clear_log()
    status, output = run_playbook(tmp_path / "wrong", tasks[:1], dict(env, IZUMA_PKCS11_PIN="wrong-pin-0815"), "-vvv")
    assert status != 0 and recap(output)[2] == 1, output[-3000:]
    assert "the PIN for the PKCS#11 token with label '%s' is wrong" % hsm.label in output, output[-3000:]
    assert [entry for entry in api.emulator.log() if not entry["path"].startswith("/_emulator")] == []
    assert_no_secret(output, "wrong-pin-0815", hsm.pin)

# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""izuma_jwt through ansible-playbook with keys in a token: every algorithm, converged, wrong PIN, nothing secret shown.

Each deployed token is verified by PyJWT given only the certificate uploaded for the key, and by the emulator
(``verify: true``: the action plugin authenticates one request with the token the host holds).
"""

from __future__ import annotations

import os
import typing as t
from pathlib import Path

import jwt
import pytest
from izuma_emulator.testing import start_in_thread

from ansible_collections.izuma.device_management.plugins.module_utils._x509 import certificates as _certificates
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys as _keys
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import signing as _tokens

from conftest import pkcs11_env, spec_id, spec_label
from playbooks import Api, assert_no_secret, recap, run_playbook


def specs(hsm: t.Any) -> t.List[t.Any]:
    """One key of each type the algorithms need: RSA 2048 signs the RS (and PS) algorithms, each curve its ES algorithm."""
    return [("RSA", 2048, None)] + [spec for spec in hsm.profile.key_specs if spec[0] == "EC"]


def cases(hsm: t.Any) -> t.List[t.Tuple[t.Any, str]]:
    """Every algorithm the implementation signs, with its key spec."""
    return [(spec, algorithm) for spec in specs(hsm) for algorithm in hsm.profile.algorithms(spec)]


@pytest.fixture(scope="module")
def api() -> t.Iterator[Api]:
    """An emulator in a thread of this process."""
    emulator = start_in_thread()
    yield Api(emulator)
    emulator.stop()


@pytest.fixture(scope="module")
def applications(hsm: t.Any, api: Api, pairs: t.Dict[t.Any, t.Any]) -> t.Dict[t.Any, t.Tuple[str, str]]:
    """An application per key spec, whose verification key is the token key's certificate: (id, certificate)."""
    return {spec: api.application_with_key("pkcs11-jwt-" + spec_id(spec), pairs[spec]) for spec in specs(hsm)}


def deploy_task(api: Api, applications: t.Mapping[t.Any, t.Tuple[str, str]], spec: t.Any, algorithm: str, dest: Path,
                **options: t.Any) -> t.Dict[str, t.Any]:
    """An izuma_jwt task signing with the spec's key in the token, verified by the emulator."""
    args = {"pkcs11_key_label": spec_label(spec), "algorithm": algorithm, "subject": "host-" + algorithm,
            "dest": str(dest), "lifetime": 3600, "renew_margin": 600, "verify": True, "application_id": applications[spec][0],
            "api_host": api.url}
    args.update(options)
    return {"name": "Token %s" % algorithm, "izuma.device_management.izuma_jwt": args, "register": "result_" + algorithm}


def state(paths: t.Iterable[Path]) -> t.Dict[str, t.Tuple[int, int]]:
    """(inode, mtime) of each file: a write replaces the inode."""
    return {str(path): (os.stat(path).st_ino, os.stat(path).st_mtime_ns) for path in paths}


def test_every_algorithm_deploys_verifies_and_converges(hsm, pairs, api, applications, tmp_path: Path) -> None:
    signed = cases(hsm)
    dests = {algorithm: tmp_path / "tokens" / ("%s.jwt" % algorithm) for _spec, algorithm in signed}
    tasks = [deploy_task(api, applications, spec, algorithm, dests[algorithm], directory_mode="0700", key_id=(algorithm == "RS384"))
             for spec, algorithm in signed]
    api.emulator.clear_log()
    status, output = run_playbook(tmp_path / "run1", tasks, pkcs11_env(hsm), "-v")
    assert status == 0, output[-6000:]
    assert recap(output)[1:] == (len(signed), 0), output[-3000:]
    # Each token verifies with the uploaded certificate alone, was accepted by the emulator, and has what was asked.
    for spec, algorithm in signed:
        certificate = _certificates.load_certificate(applications[spec][1])
        token = dests[algorithm].read_text(encoding="ascii").strip()
        claims = jwt.decode(token, certificate.public_key(), algorithms=[algorithm])
        assert claims["sub"] == "host-" + algorithm and claims["exp"] - claims["iat"] == 3600
        assert jwt.get_unverified_header(token)["alg"] == algorithm
        assert oct(os.stat(dests[algorithm]).st_mode & 0o777) == "0o600"
    kid = jwt.get_unverified_header(dests["RS384"].read_text(encoding="ascii").strip())["kid"]
    assert kid == _keys.public_key_fingerprint(pairs[("RSA", 2048, None)].public_key())[:32]
    verified = [entry for entry in api.emulator.log() if entry["auth"] == "jwt"]
    assert len(verified) == len(signed) and all(entry["status"] == 200 for entry in verified), verified
    assert_no_secret(output, hsm.pin)

    # Converged: nothing written, no module run, the kept tokens verified again (verify_kept) and accepted.
    before = state(dests.values())
    status, output = run_playbook(tmp_path / "run2", tasks, pkcs11_env(hsm), "-vvv")
    assert status == 0, output[-6000:]
    assert recap(output)[1:] == (0, 0), output[-3000:]
    assert state(dests.values()) == before
    assert output.count('"module_runs": 0') == len(signed), output[-3000:]
    assert_no_secret(output, hsm.pin)


def test_a_token_of_another_key_is_replaced_and_the_diff_names_the_keys(hsm, pairs, api, applications, tmp_path: Path) -> None:
    spec = ("EC", None, "P-256")
    dest = tmp_path / "host.jwt"
    other = _keys.generate_private_key("EC", curve="P-256")
    dest.write_text(_tokens.sign_token(other, "ES256", lifetime=3600, subject="host-ES256") + "\n", encoding="ascii")
    dest.chmod(0o600)
    tasks = [deploy_task(api, applications, spec, "ES256", dest)]
    status, output = run_playbook(tmp_path / "run", tasks, pkcs11_env(hsm), "--diff", "-v")
    assert status == 0, output[-6000:]
    assert "the token was not signed by the current key" in output, output[-3000:]
    token_key = _keys.public_key_fingerprint(pairs[spec].public_key())
    assert '"signing_key_fingerprint": "%s"' % token_key in output and '"signed_by_current_key": false' in output
    jwt.decode(dest.read_text(encoding="ascii").strip(), pairs[spec].public_key(), algorithms=["ES256"])
    # Check mode after that: the token is the current key's, nothing to do.
    status, output = run_playbook(tmp_path / "check", tasks, pkcs11_env(hsm), "--check")
    assert status == 0 and recap(output)[1:] == (0, 0), output[-3000:]


def test_a_wrong_pin_is_refused_and_nothing_changes(hsm, pairs, api, applications, tmp_path: Path) -> None:
    spec = ("RSA", 2048, None)
    kept, new = tmp_path / "kept.jwt", tmp_path / "new.jwt"
    tasks = [deploy_task(api, applications, spec, "RS256", kept)]
    assert run_playbook(tmp_path / "setup", tasks, pkcs11_env(hsm))[0] == 0
    before = state([kept])
    wrong = "wrong-pin-0815"
    tasks = [deploy_task(api, applications, spec, "RS256", kept, force=True),
             deploy_task(api, applications, spec, "RS512", new, pkcs11_pin=wrong)]
    for task in tasks:
        task["ignore_errors"] = True
    # The first task takes the wrong PIN from the environment, the second from its option.
    status, output = run_playbook(tmp_path / "wrong", tasks, pkcs11_env(hsm, pin=wrong), "-vvv")
    assert status == 0 and "ignored=2" in output, output[-3000:]
    assert output.count("fatal: [localhost]: FAILED!") == 2, output[-4000:]
    assert output.count('"msg": "the PIN for the PKCS#11 token with label \'%s\' is wrong' % hsm.label) == 2, output[-4000:]
    assert state([kept]) == before and not new.exists()
    assert_no_secret(output, wrong, hsm.pin)


def test_a_missing_key_label_is_named(hsm, pairs, api, applications, tmp_path: Path) -> None:
    tasks = [deploy_task(api, applications, ("EC", None, "P-256"), "ES256", tmp_path / "t.jwt", pkcs11_key_label="izuma:nope:current")]
    status, output = run_playbook(tmp_path / "run", tasks, pkcs11_env(hsm))
    assert status != 0 and "has no private key labelled 'izuma:nope:current'" in output, output[-3000:]
    assert not (tmp_path / "t.jwt").exists()

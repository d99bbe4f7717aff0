# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the izuma_jwt action plugin: sign on the controller, idempotent deploy, check/diff mode, refusals.

The host side runs in this process: ``_execute_module`` is replaced by a call
of the real module (see jwt_support.run_module), so each test exercises the
whole observe -> plan -> apply path on real files.
"""

from __future__ import annotations

import json
import os
import stat
import time
import typing as t
from unittest.mock import MagicMock

import jwt
import pytest

from ansible.parsing.dataloader import DataLoader

from ansible_collections.izuma.device_management.plugins.action import izuma_jwt as action_plugin
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import signing as tokens
from ansible_collections.izuma.device_management.plugins.module_utils._jwt.options import renew_margin
from ansible_collections.izuma.device_management.tests.unit.plugins.jwt_support import (
    ALGORITHM_KEYS,
    PASSPHRASE,
    assert_no_secret,
    pem,
    private_key,
    run_module,
    write_key,
)


class Deployer:
    """Runs the action plugin for one host whose files live in ``tmp_path``; records the module operations it ran."""

    def __init__(self, tmp_path: t.Any) -> None:
        self.tmp_path = tmp_path
        self.calls = []  # type: t.List[str]
        self.dest = str(tmp_path / "host.jwt")

    def run(self, check_mode: bool = False, diff: bool = False, task_vars: t.Optional[t.Dict[str, t.Any]] = None,
            **args: t.Any) -> t.Dict[str, t.Any]:
        args.setdefault("dest", self.dest)
        task = MagicMock()
        task.args = args
        task.check_mode = check_mode
        task.diff = diff
        task.async_val = 0
        task.action = "izuma.device_management.izuma_jwt"
        connection = MagicMock()
        connection._shell.tmpdir = None
        loader = DataLoader()
        loader.set_basedir(str(self.tmp_path))
        action = action_plugin.ActionModule(task, connection, MagicMock(), loader, None, None)

        def execute(module_name: str, module_args: t.Dict[str, t.Any], task_vars: t.Any) -> t.Dict[str, t.Any]:
            assert module_name == "izuma.device_management.izuma_jwt"
            # The host never receives a key option.
            assert not {"private_key_path", "private_key_content", "private_key_passphrase", "pkcs11_pin", "pkcs11_key_label"} & set(module_args)
            self.calls.append(module_args["_operation"])
            return run_module(module_args, check_mode=check_mode, diff=diff)

        action._execute_module = execute
        action._remove_tmp_path = lambda path: None
        result = action.run(task_vars=task_vars or {})
        self.calls_before = list(self.calls)
        return result

    def token(self) -> str:
        with open(self.dest) as handle:
            return handle.read().strip()

    def stat(self) -> t.Tuple[int, int]:
        info = os.stat(self.dest)
        return info.st_ino, info.st_mtime_ns


@pytest.fixture
def host(tmp_path: t.Any) -> Deployer:
    return Deployer(tmp_path)


@pytest.fixture
def ec_key_path(tmp_path: t.Any) -> str:
    return write_key(tmp_path / "signing.key", private_key("P-256"))


def public_of(name: str) -> t.Any:
    return private_key(name).public_key()


def test_first_run_signs_on_the_controller_and_writes_a_0600_token(host: Deployer, ec_key_path: str) -> None:
    result = host.run(private_key_path=ec_key_path, subject="host-1", audience=["izuma"])
    assert result["changed"] is True and result["renewed"] is True and result["reason"] == "there is no token yet"
    assert host.calls == ["inspect", "write"]
    assert stat.S_IMODE(os.stat(host.dest).st_mode) == 0o600
    claims = jwt.decode(host.token(), public_of("P-256"), algorithms=["ES256"], audience="izuma")
    assert claims["sub"] == "host-1" and claims["exp"] - claims["iat"] == 86400
    assert result["claims"] == claims and result["algorithm"] == "ES256" and result["mode"] == "0600"
    assert result["key_fingerprint"] == keys.public_key_fingerprint(private_key("P-256"))
    assert result["seconds_left"] in (86399, 86400) and result["expires_at"].endswith("Z")
    assert "token" not in result
    assert_no_secret(result, host.token(), pem(private_key("P-256")))


def test_converged_run_changes_nothing_and_writes_nothing(host: Deployer, ec_key_path: str) -> None:
    host.run(private_key_path=ec_key_path, subject="host-1")
    before = host.stat()
    host.calls.clear()
    result = host.run(private_key_path=ec_key_path, subject="host-1")
    assert result["changed"] is False and result["renewed"] is False
    assert "matches the request" in result["reason"]
    assert host.calls == ["inspect"]
    assert host.stat() == before
    check = host.run(private_key_path=ec_key_path, subject="host-1", check_mode=True, diff=True)
    assert check["changed"] is False and host.stat() == before


@pytest.mark.parametrize("algorithm", sorted(ALGORITHM_KEYS))
def test_every_algorithm(tmp_path: t.Any, algorithm: str) -> None:
    host = Deployer(tmp_path)
    kind = ALGORITHM_KEYS[algorithm]
    path = write_key(tmp_path / "k.pem", private_key(kind))
    result = host.run(private_key_path=path, algorithm=algorithm)
    assert result["changed"] and result["header"]["alg"] == algorithm
    jwt.decode(host.token(), public_of(kind), algorithms=[algorithm])
    assert host.run(private_key_path=path, algorithm=algorithm)["changed"] is False


def test_default_algorithm_follows_the_key(tmp_path: t.Any) -> None:
    for kind, algorithm in (("rsa", "RS256"), ("P-384", "ES384"), ("P-521", "ES512")):
        host = Deployer(tmp_path)
        host.dest = str(tmp_path / ("%s.jwt" % kind))
        path = write_key(tmp_path / ("%s.pem" % kind), private_key(kind))
        assert host.run(private_key_path=path)["algorithm"] == algorithm


def write_token(host: Deployer, key: t.Any, **options: t.Any) -> str:
    token = tokens.sign_token(key, **options)
    with open(host.dest, "w") as handle:
        handle.write(token + "\n")
    os.chmod(host.dest, 0o600)
    return token


@pytest.mark.parametrize("deployed, reason", [
    (dict(key="P-256-other", subject="host-1", lifetime=86400), "not signed by the current key"),
    (dict(key="P-256", subject="host-2", lifetime=86400), "claims differ from the requested ones (sub)"),
    (dict(key="P-256", subject="host-1", lifetime=86400, claims={"site": "x"}), "claims differ from the requested ones (site)"),
    (dict(key="P-256", subject="host-1", lifetime=3600), "lifetime is 3600 seconds, not the requested 86400"),
    (dict(key="P-256", subject="host-1", lifetime=86400, headers={"kid": "k1"}), "headers differ from the requested ones (kid)"),
    (dict(key="P-256", subject="host-1", lifetime=86400, not_before_skew=30), "has an nbf claim"),
    (dict(key="P-256", subject="host-1", lifetime=86400, now_offset=-86000), "within the renewal margin of 21600 seconds"),
    (dict(key="P-256", subject="host-1", lifetime=86400, now_offset=-90000), "expired at"),
])
def test_renews_when_needed(host: Deployer, ec_key_path: str, deployed: t.Dict[str, t.Any], reason: str) -> None:
    options = dict(deployed)
    key = private_key(options.pop("key"))
    offset = options.pop("now_offset", 0)
    old = write_token(host, key, now=time.time() + offset, **options)
    result = host.run(private_key_path=ec_key_path, subject="host-1")
    assert result["changed"] is True and result["renewed"] is True, result
    assert reason in result["reason"]
    assert host.token() != old and host.calls == ["inspect", "write"]
    jwt.decode(host.token(), public_of("P-256"), algorithms=["ES256"])
    assert_no_secret(result, old, host.token())


@pytest.mark.parametrize("age, renewed", [(2600, False), (2800, True)])
def test_renew_margin_follows_a_short_lifetime(host: Deployer, ec_key_path: str, age: int, renewed: bool) -> None:
    # No renew_margin: a quarter of a one-hour lifetime (900 s), where the day-long default's 21600 s would be refused.
    old = write_token(host, private_key("P-256"), subject="host-1", lifetime=3600, now=time.time() - age)
    result = host.run(private_key_path=ec_key_path, subject="host-1", lifetime=3600)
    assert result.get("failed") is not True, result
    assert result["changed"] is renewed and (host.token() != old) is renewed
    if renewed:
        assert "within the renewal margin of 900 seconds" in result["reason"]


def test_renew_margin_default() -> None:
    assert renew_margin(86400) == 21600 and renew_margin(3600) == 900 and renew_margin(400 * 86400) == 21600
    assert renew_margin(3600, 0) == 0 and renew_margin(3600, 60) == 60


def test_garbage_in_dest_is_replaced(host: Deployer, ec_key_path: str) -> None:
    with open(host.dest, "w") as handle:
        handle.write("not a token at all\n")
    result = host.run(private_key_path=ec_key_path)
    assert result["changed"] and "not a JWT" in result["reason"]


def test_key_rotation_at_the_same_path_renews(host: Deployer, tmp_path: t.Any) -> None:
    path = write_key(tmp_path / "rotating.key", private_key("P-256"))
    host.run(private_key_path=path)
    write_key(tmp_path / "rotating.key", private_key("P-256-other"))
    result = host.run(private_key_path=path)
    assert result["renewed"] and "not signed by the current key" in result["reason"]
    jwt.decode(host.token(), public_of("P-256-other"), algorithms=["ES256"])


def test_only_attributes_differ(host: Deployer, ec_key_path: str) -> None:
    host.run(private_key_path=ec_key_path)
    token = host.token()
    os.chmod(host.dest, 0o644)
    host.calls.clear()
    check = host.run(private_key_path=ec_key_path, check_mode=True, diff=True)
    assert check["changed"] is True and check["renewed"] is False and host.calls == ["inspect"]
    assert check["diff"]["before"]["mode"] == "0644" and check["diff"]["after"]["mode"] == "0600"
    assert stat.S_IMODE(os.stat(host.dest).st_mode) == 0o644
    result = host.run(private_key_path=ec_key_path)
    assert result["changed"] is True and result["renewed"] is False and result["mode"] == "0600"
    assert host.calls == ["inspect", "inspect", "attributes"]
    assert host.token() == token


def test_check_mode_signs_nothing_and_writes_nothing(host: Deployer, ec_key_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "sign_token", MagicMock(side_effect=AssertionError("check mode must not sign")))
    result = host.run(private_key_path=ec_key_path, subject="host-1", random_jwt_id=True, check_mode=True, diff=True)
    assert result["changed"] is True and result["renewed"] is True
    assert host.calls == ["inspect"] and not os.path.exists(host.dest)
    assert result["claims"]["sub"] == "host-1" and result["claims"]["jti"] == "<random>"
    assert result["diff"]["before"] == {}
    after = result["diff"]["after"]
    assert after["claims"]["sub"] == "host-1" and after["mode"] == "0600"
    assert after["signing_key_fingerprint"] == keys.public_key_fingerprint(private_key("P-256"))


def test_diff_shows_claims_expiry_and_fingerprints_never_the_token(host: Deployer, ec_key_path: str, tmp_path: t.Any) -> None:
    old = write_token(host, private_key("P-256-other"), subject="old", lifetime=86400)
    result = host.run(private_key_path=ec_key_path, subject="new", diff=True)
    before, after = result["diff"]["before"], result["diff"]["after"]
    assert before["claims"]["sub"] == "old" and before["signed_by_current_key"] is False and before["signing_key_fingerprint"] is None
    assert after["claims"]["sub"] == "new" and after["signed_by_current_key"] is True
    assert after["expires_at"] == result["expires_at"]
    assert result["diff"]["before_header"] == host.dest
    assert_no_secret(result, old, host.token())


def test_return_token_on_request(host: Deployer, ec_key_path: str) -> None:
    issued = host.run(private_key_path=ec_key_path, return_token=True)
    assert issued["token"] == host.token()
    kept = host.run(private_key_path=ec_key_path, return_token=True)
    assert kept["changed"] is False and kept["token"] == host.token()


def test_force_reissues(host: Deployer, ec_key_path: str) -> None:
    host.run(private_key_path=ec_key_path)
    result = host.run(private_key_path=ec_key_path, force=True)
    assert result["changed"] and result["reason"].startswith("force is true")


def test_private_key_content_and_passphrase(host: Deployer) -> None:
    content = pem(private_key("rsa"), PASSPHRASE).decode()
    result = host.run(private_key_content=content, private_key_passphrase=PASSPHRASE, algorithm="PS256")
    assert result["changed"] and result["algorithm"] == "PS256"
    jwt.decode(host.token(), public_of("rsa"), algorithms=["PS256"])
    assert_no_secret(result, content, PASSPHRASE, host.token())


def test_relative_key_path_is_relative_to_the_playbook(host: Deployer, tmp_path: t.Any) -> None:
    write_key(tmp_path / "relative.key", private_key("P-384"))
    assert host.run(private_key_path="relative.key")["algorithm"] == "ES384"


def test_relative_key_path_in_a_role(host: Deployer, tmp_path: t.Any) -> None:
    (tmp_path / "role").mkdir()
    write_key(tmp_path / "role" / "role.key", private_key("P-521"))
    assert host.run(private_key_path="role.key", task_vars={"role_path": str(tmp_path / "role")})["algorithm"] == "ES512"


def test_key_id_and_headers(host: Deployer, ec_key_path: str) -> None:
    result = host.run(private_key_path=ec_key_path, key_id=True, headers={"typ": "at+jwt"}, not_before_skew=60)
    assert result["header"]["kid"] == keys.public_key_fingerprint(private_key("P-256"))[:32]
    assert result["header"]["typ"] == "at+jwt" and result["claims"]["nbf"] == result["claims"]["iat"] - 60
    assert host.run(private_key_path=ec_key_path, key_id=True, headers={"typ": "at+jwt"}, not_before_skew=60)["changed"] is False


def refused(host: Deployer, **args: t.Any) -> str:
    result = host.run(**args)
    assert result.get("failed") is True, result
    assert host.calls == [], "the host must not be contacted before the options are checked"
    assert not os.path.exists(host.dest)
    return result["msg"]


def test_refusals_name_the_problem_before_any_host_is_contacted(host: Deployer, tmp_path: t.Any, ec_key_path: str) -> None:
    rsa_path = write_key(tmp_path / "rsa.key", private_key("rsa"))
    weak_path = write_key(tmp_path / "weak.key", private_key("rsa1024"))
    locked_path = write_key(tmp_path / "locked.key", private_key("P-256"), passphrase=PASSPHRASE)
    assert "value of algorithm must be one of" in refused(host, private_key_path=ec_key_path, algorithm="none")
    assert "HS256" in refused(host, private_key_path=ec_key_path, algorithm="HS256")
    assert "ES384 needs an EC key on P-384, but the key is an EC key on P-256" in refused(host, private_key_path=ec_key_path, algorithm="ES384")
    assert "needs an RSA key" in refused(host, private_key_path=ec_key_path, algorithm="PS256")
    assert "ES256 needs an EC key on P-256, but the key is an RSA key" in refused(host, private_key_path=rsa_path, algorithm="ES256")
    assert "at least 2048 bits" in refused(host, private_key_path=weak_path)
    assert "is encrypted: give its passphrase" in refused(host, private_key_path=locked_path)
    message = refused(host, private_key_path=locked_path, private_key_passphrase="wrong passphrase 99")
    assert "could not be decrypted" in message and "wrong passphrase 99" not in message
    assert "not encrypted, but a passphrase was given" in refused(host, private_key_path=ec_key_path, private_key_passphrase=PASSPHRASE)
    assert "longer than max_lifetime 3600" in refused(host, private_key_path=ec_key_path, lifetime=7200, max_lifetime=3600, renew_margin=60)
    assert "headers may not set alg" in refused(host, private_key_path=ec_key_path, headers={"alg": "none"})
    assert "headers may not set jku" in refused(host, private_key_path=ec_key_path, headers={"jku": "https://evil.example/keys"})
    assert "claims may not set exp" in refused(host, private_key_path=ec_key_path, claims={"exp": 1})
    assert "renew_margin" in refused(host, private_key_path=ec_key_path, lifetime=600, renew_margin=600)
    assert "does not exist" in refused(host, private_key_path=str(tmp_path / "missing.key"))
    assert "private_key_path" in refused(host)
    assert "mutually exclusive" in refused(host, private_key_path=ec_key_path, private_key_content=pem(private_key("P-256")).decode())
    assert "mutually exclusive" in refused(host, private_key_path=ec_key_path, jwt_id="a", random_jwt_id=True)
    assert "internal option" in refused(host, private_key_path=ec_key_path, _token="eyJ.x.y")


def test_validation_errors_do_not_quote_secret_values(host: Deployer) -> None:
    secret = pem(private_key("P-256")).decode()
    message = refused(host, private_key_content=secret, private_key_passphrase=["a list", PASSPHRASE])
    assert_no_secret(message, secret, PASSPHRASE)


def test_host_failure_is_reported_without_the_token(host: Deployer, ec_key_path: str, tmp_path: t.Any) -> None:
    result = host.run(private_key_path=ec_key_path, dest=str(tmp_path / "missing-dir" / "t.jwt"))
    assert result["failed"] and "create it first" in result["msg"]
    assert host.calls == ["inspect"]


def test_scrub() -> None:
    token = tokens.sign_token(private_key("P-256"))
    assert action_plugin.scrub("failed near %s!" % token) == "failed near <token>!"
    assert action_plugin.scrub("pass=hunter2", "hunter2") == "pass=<secret>"


def test_result_is_json_and_small(host: Deployer, ec_key_path: str) -> None:
    result = host.run(private_key_path=ec_key_path, claims={"roles": ["reader"], "n": 1})
    assert json.loads(json.dumps(result))["claims"]["roles"] == ["reader"]
    assert set(result) >= {"dest", "renewed", "reason", "algorithm", "claims", "header", "issued_at", "expires_at",
                           "seconds_left", "key_fingerprint", "mode", "owner", "group", "changed"}


@pytest.mark.parametrize("args, expected", [
    # The default ceiling (max_lifetime: one year) refuses it first ...
    (dict(lifetime=10 ** 12), "lifetime 1000000000000 seconds is longer than max_lifetime 31536000 seconds: shorten lifetime"),
    # ... and with an absurd policy, the hard ceiling does.
    (dict(lifetime=10 ** 12, max_lifetime=10 ** 12), "max_lifetime 1000000000000 seconds is longer than any token may live"),
    (dict(lifetime=2 * 31536000), "lifetime 63072000 seconds is longer than max_lifetime 31536000 seconds"),
])
def test_an_absurd_lifetime_is_refused_before_signing(host: Deployer, ec_key_path: str, args: t.Dict[str, t.Any], expected: str) -> None:
    message = refused(host, private_key_path=ec_key_path, **args)
    assert expected in message and "out of range" not in message


def test_a_long_lifetime_is_allowed_when_max_lifetime_says_so(host: Deployer, ec_key_path: str) -> None:
    result = host.run(private_key_path=ec_key_path, lifetime=2 * 31536000, max_lifetime=3 * 31536000)
    assert result["changed"] is True
    claims = jwt.decode(host.token(), public_of("P-256"), algorithms=["ES256"])
    assert claims["exp"] - claims["iat"] == 2 * 31536000


def test_a_symlink_at_dest_is_refused_and_nothing_is_touched(host: Deployer, ec_key_path: str, tmp_path: t.Any) -> None:
    unrelated = tmp_path / "unrelated.conf"
    unrelated.write_text("important = yes\n")
    os.chmod(unrelated, 0o644)
    os.symlink(str(unrelated), host.dest)
    result = host.run(private_key_path=ec_key_path)
    assert result.get("failed") is True and result["changed"] is False
    assert host.dest in result["msg"] and str(unrelated) in result["msg"] and "follow: true" in result["msg"]
    assert host.calls == ["inspect"]
    assert unrelated.read_text() == "important = yes\n" and stat.S_IMODE(os.stat(unrelated).st_mode) == 0o644
    assert os.path.islink(host.dest)


def test_follow_writes_the_token_to_the_links_target(host: Deployer, ec_key_path: str, tmp_path: t.Any) -> None:
    target = tmp_path / "real.jwt"
    target.write_text("old\n")
    os.chmod(target, 0o644)
    os.symlink(str(target), host.dest)
    result = host.run(private_key_path=ec_key_path, follow=True)
    assert result["changed"] is True and result["mode"] == "0600"
    assert os.path.islink(host.dest) and os.readlink(host.dest) == str(target)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    jwt.decode(target.read_text().strip(), public_of("P-256"), algorithms=["ES256"])
    assert host.run(private_key_path=ec_key_path, follow=True)["changed"] is False


def test_a_token_another_run_wrote_meanwhile_is_looked_at_again_and_kept(host: Deployer, ec_key_path: str,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    real_run = action_plugin.ActionModule._module
    other_token = []  # type: t.List[str]

    def racing_module(self: t.Any, task_vars: t.Any, params: t.Any, operation: str, token: t.Optional[str] = None,
                      expected: t.Optional[str] = None) -> t.Dict[str, t.Any]:
        if operation == "write" and not other_token:
            # Another run of the same task writes dest between this run's inspect and its write.
            other_token.append(write_token(host, private_key("P-256"), subject="host-1", lifetime=86400))
        return real_run(self, task_vars, params, operation, token, expected)

    monkeypatch.setattr(action_plugin.ActionModule, "_module", racing_module)
    result = host.run(private_key_path=ec_key_path, subject="host-1")
    assert host.calls == ["inspect", "write", "inspect"]
    assert result["changed"] is False and result["renewed"] is False
    assert host.token() == other_token[0]


# PKCS#11 options (the token itself is tested in tests/pkcs11, against SoftHSM2): what is refused before any token or
# host is touched, and that an environment naming a token changes nothing for a task that signs with a key file.

def test_a_pkcs11_key_and_a_key_file_are_refused_together(host: Deployer, ec_key_path: str) -> None:
    message = refused(host, private_key_path=ec_key_path, pkcs11_key_label="izuma:k:current", pkcs11_library="/lib/p11.so")
    assert "mutually exclusive" in message and "pkcs11_key_label" in message
    message = refused(host, private_key_content=pem(private_key("P-256")).decode(), pkcs11_key_label="izuma:k:current")
    assert "mutually exclusive" in message
    assert "mutually exclusive" in refused(host, pkcs11_key_label="izuma:k:current", private_key_passphrase=PASSPHRASE)


def test_pkcs11_options_without_a_key_label_are_refused(host: Deployer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IZUMA_PKCS11_TOKEN", raising=False)
    message = refused(host, pkcs11_token="izuma", pkcs11_pin="4711-secret")
    assert "pkcs11_token, pkcs11_pin given without pkcs11_key_label" in message and "4711-secret" not in message


def test_a_pkcs11_key_needs_its_library(host: Deployer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IZUMA_PKCS11_LIBRARY", raising=False)
    message = refused(host, pkcs11_key_label="izuma:k:current", pkcs11_pin="4711-secret")
    assert "set pkcs11_library or the IZUMA_PKCS11_LIBRARY environment variable" in message and "4711-secret" not in message


def test_an_environment_that_names_a_token_leaves_key_file_tasks_alone(host: Deployer, ec_key_path: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # As an AWX credential of the PKCS#11 credential type injects them, for every task of the job.
    monkeypatch.setenv("IZUMA_PKCS11_LIBRARY", "/nonexistent/libp11.so")
    monkeypatch.setenv("IZUMA_PKCS11_TOKEN", "izuma")
    monkeypatch.setenv("IZUMA_PKCS11_PIN", "4711-secret")
    result = host.run(private_key_path=ec_key_path, subject="host-1")
    assert result["changed"] is True and not result.get("failed"), result
    assert_no_secret(result, "4711-secret")


def test_pkcs11_options_never_reach_the_host() -> None:
    from ansible_collections.izuma.device_management.plugins.module_utils._jwt import options as jwt_options
    from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import options as _pkcs11_options

    spec = jwt_options.argument_spec()
    assert set(_pkcs11_options.OPTION_NAMES) <= set(spec)
    assert not set(_pkcs11_options.OPTION_NAMES) & set(jwt_options.HOST_OPTIONS)
    assert spec["pkcs11_pin"]["no_log"] is True

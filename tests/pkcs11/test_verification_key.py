# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""izuma_verification_key with key_backend=pkcs11, through its core, against each implementation and the emulator (no mock).

The whole lifecycle for every key type (create, converge, edit, renew, rotate, retire, delete), the key objects'
protection, check and diff mode, and a run killed at each step of a rotation (API writes, token writes, file writes),
which the next run finishes.
"""

from __future__ import annotations

import datetime
import os
import typing as t

import pytest
from izuma_emulator.testing import start_in_thread

from ansible_collections.izuma.device_management.plugins.module_utils import _files
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import certificates as certs
from ansible_collections.izuma.device_management.plugins.module_utils import _times as times
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import key_pairs as _pkcs11_keys
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key import state
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key import pkcs11_store
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key import converge as vk
from ansible_collections.izuma.device_management.plugins.module_utils._api import IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._api_config import ClientConfig
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaConfigError
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.options import Desired

from conftest import spec_id


class Killed(BaseException):
    """Stands for the process being killed: not an Exception, so nothing in the core catches it."""


@pytest.fixture(scope="module")
def emulator() -> t.Iterator[t.Any]:
    server = start_in_thread()
    yield server
    server.stop()


@pytest.fixture()
def client(emulator) -> IzumaClient:
    emulator.reset()
    return IzumaClient(ClientConfig(api_host=emulator.url, api_key=emulator.admin_key, retries=0))


@pytest.fixture()
def app(client) -> t.Dict[str, t.Any]:
    return client.create("/v3/applications", {"name": "pkcs11-vk"})


def desired(hsm: t.Any, tmp_path: t.Any, name: str, **options: t.Any) -> Desired:
    values: t.Dict[str, t.Any] = dict(name=name, key_backend="pkcs11", pkcs11_library=hsm.module, pkcs11_token=hsm.label,
                                      pkcs11_pin=hsm.pin, certificate_path=str(tmp_path / ("%s.crt" % name)))
    values.update(options)
    want = Desired(**values)
    want.validate()
    return want


def run(client: IzumaClient, app: t.Dict[str, t.Any], want: Desired, check: bool = False,
        now: t.Optional[datetime.datetime] = None) -> t.Dict[str, t.Any]:
    return vk.converge(client, want, check_mode=check, diff=True, application_id=app["id"], now=now)


def kinds(result: t.Dict[str, t.Any]) -> t.List[str]:
    return [entry["kind"] for entry in result["plan_details"]]


def remote(client: IzumaClient, app: t.Dict[str, t.Any]) -> t.Dict[str, t.Dict[str, t.Any]]:
    return {item["name"]: item for item in state.list_keys(client, app["id"])}


def in_token(token: t.Any, name: str) -> t.Dict[str, str]:
    """The generations of ``name`` in the token, by generation: the public-key fingerprint of each."""
    found = {}
    for generation in ("current", "next", "previous"):
        pair = _pkcs11_keys.find_key_pair(token, _pkcs11_keys.key_label(name, generation))
        if pair is not None:
            found[generation] = pair.describe()["public_key_fingerprint"]
    return found


def snapshot(tmp_path: t.Any) -> t.Dict[str, bytes]:
    return {name: (tmp_path / name).read_bytes() for name in sorted(os.listdir(tmp_path))}


def test_the_whole_lifecycle_of_a_key_in_the_token(hsm, token, client, emulator, app, tmp_path, spec) -> None:
    key_type, size, curve = spec
    name = "life-" + spec_id(spec)
    want = desired(hsm, tmp_path, name, key_type=key_type, key_size=size, curve=curve)
    created = run(client, app, want)
    assert created["changed"] and kinds(created) == ["GenerateKey", "UploadKey", "PromoteKeys"], created["plan_details"]
    assert created["pkcs11_key_label"] == "izuma:%s:current" % name and created["key_backend"] == "pkcs11"
    pair = _pkcs11_keys.find_key_pair(token, created["pkcs11_key_label"])
    described = pair.describe()
    assert described["sensitive"] and not described["extractable"] and described["never_extractable"]
    assert described["always_sensitive"] and described["token_object"]
    assert described["algorithm"] == key_type
    uploaded = remote(client, app)
    assert list(uploaded) == [name]
    assert uploaded[name]["public_key_fingerprint"] == described["public_key_fingerprint"] == created["public_key_fingerprint"]
    # The token signed the self-signed certificate: it verifies with the token's public key.
    cert = certs.load_certificate((tmp_path / ("%s.crt" % name)).read_text())
    assert certs.issued_by(cert, cert) and certs.certificate_matches_key(cert, pair.public_key())

    # Converged: nothing written, in the application, the token or on disk.
    emulator.clear_log()
    before = snapshot(tmp_path)
    again = run(client, app, want)
    assert not again["changed"] and again["plan"] == [] and emulator.writes() == []
    assert snapshot(tmp_path) == before and in_token(token, name) == {"current": described["public_key_fingerprint"]}

    # Edit: description and status in one PUT, the key untouched.
    edited = run(client, app, desired(hsm, tmp_path, name, key_type=key_type, key_size=size, curve=curve,
                                      description="in the HSM", status="inactive"))
    assert kinds(edited) == ["UpdateKey"] and remote(client, app)[name]["status"] == "INACTIVE"

    # Renew: a new certificate for the same token key, signed by the token.
    later = times.utcnow() + datetime.timedelta(days=340)
    emulator.clock(340 * 86400)
    try:
        renewed = run(client, app, desired(hsm, tmp_path, name, key_type=key_type, key_size=size, curve=curve,
                                           status="active"), now=later)
    finally:
        emulator.clock(0)
    assert renewed["renewed"] and "UpdateKey" in kinds(renewed) and "GenerateKey" not in kinds(renewed)
    assert in_token(token, name) == {"current": described["public_key_fingerprint"]}

    # Rotate: a new pair generated as :next, uploaded, promoted; the old one becomes :previous in both places.
    rotated = run(client, app, desired(hsm, tmp_path, name, key_type=key_type, key_size=size, curve=curve, rotate=True))
    assert rotated["rotated"] and rotated["rotation_reason"] == "rotation requested"
    assert kinds(rotated) == ["GenerateKey", "UpdateKey", "UploadKey", "PromoteKeys"], rotated["plan_details"]
    held = in_token(token, name)
    assert sorted(held) == ["current", "previous"] and held["previous"] == described["public_key_fingerprint"]
    uploaded = remote(client, app)
    assert uploaded[name]["public_key_fingerprint"] == held["current"]
    assert uploaded[name + "-previous"]["public_key_fingerprint"] == held["previous"]
    assert rotated["previous_pkcs11_key_label"] == "izuma:%s:previous" % name
    assert (tmp_path / ("%s.crt.previous" % name)).exists()

    # Retire: the previous key leaves the application first, then its pair leaves the token.
    retired = run(client, app, desired(hsm, tmp_path, name, key_type=key_type, key_size=size, curve=curve,
                                       retire_previous="now", remove_previous_private_key=True))
    assert kinds(retired) == ["DeleteKey", "DestroyKey", "RemoveFile"], retired["plan_details"]
    assert list(remote(client, app)) == [name] and list(in_token(token, name)) == ["current"]

    # Delete, with remove_files: the keys from the application, then their pairs and the certificate file.
    deleted = run(client, app, desired(hsm, tmp_path, name, state="absent", remove_files=True))
    assert kinds(deleted) == ["DeleteKey", "DestroyKey", "RemoveFile"], deleted["plan_details"]
    assert remote(client, app) == {} and in_token(token, name) == {} and os.listdir(tmp_path) == []


def test_check_mode_generates_no_object_and_changes_nothing(hsm, token, client, emulator, app, tmp_path) -> None:
    want = desired(hsm, tmp_path, "check")
    emulator.clear_log()
    predicted = run(client, app, want, check=True)
    assert predicted["changed"] and kinds(predicted) == ["GenerateKey", "UploadKey", "PromoteKeys"]
    assert emulator.writes() == [] and in_token(token, "check") == {} and os.listdir(tmp_path) == []
    run(client, app, want)
    held, before = in_token(token, "check"), snapshot(tmp_path)
    emulator.clear_log()
    rotation = run(client, app, desired(hsm, tmp_path, "check", rotate=True), check=True)
    assert rotation["changed"] and kinds(rotation) == ["GenerateKey", "UpdateKey", "UploadKey", "PromoteKeys"]
    assert emulator.writes() == [] and in_token(token, "check") == held and snapshot(tmp_path) == before
    # The new key's fingerprints are unknown until the token generates it: none is made up.
    assert rotation["verification_key"]["public_key_fingerprint"] is None and rotation["public_key_fingerprint"] is None
    assert rotation["diff"]["after"]["check"]["public_key_fingerprint"] is None
    assert rotation["diff"]["after"]["check"]["certificate_fingerprint"] is None
    assert rotation["diff"]["after"]["check-previous"]["public_key_fingerprint"] == held["current"]
    assert rotation["diff"]["after"][str(tmp_path / "check.crt")]["certificate_fingerprint"] is None


def test_diff_names_labels_and_fingerprints_never_key_material(hsm, token, client, app, tmp_path) -> None:
    run(client, app, desired(hsm, tmp_path, "diff"))
    rotated = run(client, app, desired(hsm, tmp_path, "diff", rotate=True))
    diff = rotated["diff"]
    assert set(diff["before"]) >= {"diff", "izuma:diff:current"}
    assert set(diff["after"]) >= {"diff", "diff-previous", "izuma:diff:previous"}
    text = repr(rotated)
    assert "PRIVATE KEY" not in text and hsm.pin not in text


def test_file_options_are_refused_with_pkcs11(hsm, tmp_path) -> None:
    # certificate_provider=external works with key_backend=pkcs11: test_external_csr.py.
    with pytest.raises(IzumaConfigError, match="private_key_path is for key_backend=file"):
        desired(hsm, tmp_path, "bad", private_key_path=str(tmp_path / "k"))
    with pytest.raises(IzumaConfigError, match="labels the current key of 'bad' 'izuma:bad:current'"):
        desired(hsm, tmp_path, "bad", pkcs11_key_label="other")
    with pytest.raises(IzumaConfigError, match="set key_backend=pkcs11"):
        Desired(name="bad", private_key_path=str(tmp_path / "k"), pkcs11_key_label="izuma:bad:current").validate()


def test_a_half_relabelled_pair_is_repaired_by_the_next_rotation(hsm, token, client, app, tmp_path) -> None:
    run(client, app, desired(hsm, tmp_path, "half"))
    run(client, app, desired(hsm, tmp_path, "half", rotate=True))
    # As a process killed inside relabel_key_pair leaves it: the private key relabelled, its public key not.
    pair = _pkcs11_keys.find_key_pair(token, "izuma:half:current")
    from pkcs11 import Attribute  # pylint: disable=import-outside-toplevel
    pair.private[Attribute.LABEL] = "izuma:half:next"
    _pkcs11_keys.forget_key_pair(token, "izuma:half:current")
    # The next run sees the new key as :next (uploaded as 'half') and finishes the promotion.
    resumed = run(client, app, desired(hsm, tmp_path, "half", retire_previous="never"))
    assert kinds(resumed) == ["PromoteKeys"], resumed["plan_details"]
    held = in_token(token, "half")
    assert remote(client, app)["half"]["public_key_fingerprint"] == held["current"] and "next" not in held
    assert run(client, app, desired(hsm, tmp_path, "half", retire_previous="never"))["plan"] == []


# -- a rotation killed at every step ------------------------------------------------------------------------------

class Steps:
    """Counts the writes of a run (API requests other than GET, token writes, file writes); kills at one of them."""

    TOKEN_WRITES = ("generate_key_pair", "relabel_key_pair", "destroy_key_pair")

    def __init__(self, monkeypatch: t.Any, client: IzumaClient, kill_at: t.Optional[int] = None, when: str = "before") -> None:
        self.kill_at, self.when, self.count, self.names = kill_at, when, 0, []  # type: t.Tuple[t.Optional[int], str, int, t.List[str]]
        for name in self.TOKEN_WRITES:
            monkeypatch.setattr(pkcs11_store.pkcs11_keys, name, self.wrap(name, getattr(_pkcs11_keys, name)))
        monkeypatch.setattr(pkcs11_store.files, "atomic_write", self.wrap("atomic_write", _files.atomic_write))
        inner = client.session.request

        def request(method: str, url: str, **kwargs: t.Any) -> t.Any:
            if method == "GET":
                return inner(method, url, **kwargs)
            return self.wrap("%s %s" % (method, url.rsplit("/v3/", 1)[-1]), inner)(method, url, **kwargs)

        monkeypatch.setattr(client.session, "request", request)

    def wrap(self, name: str, function: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        def step(*args: t.Any, **kwargs: t.Any) -> t.Any:
            self.count += 1
            self.names.append(name)
            if self.count == self.kill_at and self.when == "before":
                raise Killed(name)
            result = function(*args, **kwargs)
            if self.count == self.kill_at and self.when == "after":
                raise Killed(name)
            return result
        return step


def rotation_steps(hsm: t.Any, token: t.Any, emulator: t.Any, tmp_path: t.Any) -> t.List[str]:
    """The steps of an undisturbed rotation that retires the previous generation to make room."""
    client = IzumaClient(ClientConfig(api_host=emulator.url, api_key=emulator.admin_key, retries=0))
    emulator.reset()
    app = client.create("/v3/applications", {"name": "pkcs11-steps"})
    run(client, app, desired(hsm, tmp_path, "steps"))
    run(client, app, desired(hsm, tmp_path, "steps", rotate=True, grace_period=0))
    monkeypatch = pytest.MonkeyPatch()
    try:
        steps = Steps(monkeypatch, client)
        run(client, app, desired(hsm, tmp_path, "steps", rotate=True, grace_period=0))
    finally:
        monkeypatch.undo()
    run(client, app, desired(hsm, tmp_path, "steps", state="absent", remove_files=True))
    return steps.names


# The steps of a rotation that retires the previous generation to make room (asserted below).
ROTATION_STEPS = ["generate_key_pair", "DELETE", "PUT", "POST", "atomic_write", "destroy_key_pair", "relabel_key_pair",
                  "atomic_write", "relabel_key_pair"]


def test_the_rotation_steps_are_the_ones_the_kill_test_kills_at(hsm, token, emulator, tmp_path) -> None:
    names = rotation_steps(hsm, token, emulator, tmp_path)
    assert [name.split(" ")[0] for name in names] == ROTATION_STEPS, names


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("kill_at", range(1, len(ROTATION_STEPS) + 1))
def test_a_rotation_killed_at_any_step_converges(hsm, token, emulator, monkeypatch, tmp_path, kill_at, when) -> None:
    client = IzumaClient(ClientConfig(api_host=emulator.url, api_key=emulator.admin_key, retries=0))
    emulator.reset()
    app = client.create("/v3/applications", {"name": "pkcs11-kill"})
    name = "kill-%d-%s" % (kill_at, when)
    run(client, app, desired(hsm, tmp_path, name))
    run(client, app, desired(hsm, tmp_path, name, rotate=True, grace_period=0))
    killing = IzumaClient(ClientConfig(api_host=emulator.url, api_key=emulator.admin_key, retries=0))
    with monkeypatch.context() as patch:
        Steps(patch, killing, kill_at, when)
        with pytest.raises(Killed):
            run(killing, app, desired(hsm, tmp_path, name, rotate=True, grace_period=0))
    assert_invariants(client, app, token, name)
    # The scheduled run (no rotate) finishes the rotation the killed run started.
    run(client, app, desired(hsm, tmp_path, name, grace_period=0))
    assert_invariants(client, app, token, name)
    held, uploaded = in_token(token, name), remote(client, app)
    assert "next" not in held and uploaded[name]["public_key_fingerprint"] == held["current"]
    if name + "-previous" in uploaded:
        assert uploaded[name + "-previous"]["public_key_fingerprint"] == held["previous"]
    final = run(client, app, desired(hsm, tmp_path, name, retire_previous="never"))
    assert final["plan"] == [] and not final["changed"]
    run(client, app, desired(hsm, tmp_path, name, state="absent", remove_files=True))


def assert_invariants(client: IzumaClient, app: t.Dict[str, t.Any], token: t.Any, name: str) -> None:
    """At most two keys, each with its private key in the token, and at least one usable."""
    uploaded = list(remote(client, app).values())
    assert 1 <= len(uploaded) <= 2
    held = set(in_token(token, name).values())
    for item in uploaded:
        assert item["public_key_fingerprint"] in held, "an uploaded key lost its private key: %s" % item["name"]
    assert any(state.is_usable(item, times.utcnow()) for item in uploaded)


def test_ownca_issues_the_token_keys_certificates(hsm, token, client, app, tmp_path) -> None:
    # The CA is given as content, so that no private key file is left (test_leftovers.py scans the run's files).
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes, serialization  # pylint: disable=import-outside-toplevel
    from cryptography.x509.oid import NameOID  # pylint: disable=import-outside-toplevel
    from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys as _keys  # pylint: disable=import-outside-toplevel

    ca_key = _keys.generate_private_key("EC", curve="P-384")
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "PKCS#11 test CA")])
    start = times.utcnow() - datetime.timedelta(days=1)
    ca = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA384()))
    options = dict(certificate_provider="ownca", ownca_content=ca.public_bytes(serialization.Encoding.PEM).decode(),
                   ownca_privatekey_content=_keys.dump_private_key(ca_key).decode())
    created = run(client, app, desired(hsm, tmp_path, "ownca", **options))
    rotated = run(client, app, desired(hsm, tmp_path, "ownca", rotate=True, **options))
    for result in (created, rotated):
        cert = certs.load_certificate(result["verification_key"]["certificate"])
        assert certs.issued_by(cert, ca) and not certs.issued_by(cert, cert)
    held = in_token(token, "ownca")
    assert rotated["verification_key"]["public_key_fingerprint"] == held["current"] != held["previous"]
    assert run(client, app, desired(hsm, tmp_path, "ownca", **options))["plan"] == []

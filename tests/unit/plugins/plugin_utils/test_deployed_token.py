# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The izuma_jwt action's deployed-token helpers: the read through the connection (run here in /bin/sh on real
files), its parsing, the attribute comparison, and the verification request against the emulator."""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import stat
import subprocess
import typing as t

import pytest

from izuma_emulator.testing import ThreadedEmulator

from ansible_collections.izuma.device_management.plugins.module_utils._x509 import certificates as certs
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import issuing
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import signing as tokens
from ansible_collections.izuma.device_management.plugins.module_utils._api import IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaError
from ansible_collections.izuma.device_management.plugins.plugin_utils import _deployed_token as deployed

TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"


def read(path: str, directory_allowed: bool = False) -> t.Optional[t.Dict[str, t.Any]]:
    """Run the read command the way a connection does (/bin/sh -c) and parse its output."""
    done = subprocess.run(["/bin/sh", "-c", deployed.read_command(path)], stdout=subprocess.PIPE, check=True)
    return deployed.parse_read(done.stdout.decode("utf-8", "surrogateescape"), directory_allowed)


def test_a_token_file_is_read_with_its_attributes(tmp_path: t.Any) -> None:
    path = tmp_path / "a dir" / "it's.jwt"
    path.parent.mkdir()
    path.write_bytes(TOKEN.encode() + b"\n")
    path.chmod(0o640)
    observed = read(str(path))
    assert observed is not None
    assert observed["exists"] and observed["token"] == TOKEN and observed["mode"] == "0640"
    assert observed["uid"] == os.getuid() and observed["owner"] == pwd.getpwuid(os.getuid()).pw_name
    assert observed["gid"] == os.getgid() and observed["group"] == grp.getgrgid(os.getgid()).gr_name
    assert observed["content_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_content_bytes_are_exact_for_the_superseded_check(tmp_path: t.Any) -> None:
    path = tmp_path / "odd.jwt"
    path.write_bytes(b"\xff\xfe not a token\r\n\n")
    observed = read(str(path))
    assert observed is not None and observed["content_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_terminal_changes_nothing_of_the_content(tmp_path: t.Any) -> None:
    """ssh -tt (a terminal) turns every newline of the output into CR LF: the token and its SHA-256 stay exact."""
    path = tmp_path / "app.jwt"
    path.write_bytes(TOKEN.encode() + b"\n")
    done = subprocess.run(["/bin/sh", "-c", deployed.read_command(str(path))], stdout=subprocess.PIPE, check=True)
    observed = deployed.parse_read(done.stdout.decode("utf-8", "surrogateescape").replace("\n", "\r\n"))
    assert observed is not None and observed["token"] == TOKEN and observed["mode"] == "0%o" % stat.S_IMODE(path.stat().st_mode)
    assert observed["content_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    # Without the end of the dump (od missing or failed), the read does not answer.
    assert deployed.parse_read(done.stdout.decode().replace(deployed.MARKER + "end", "")) is None


def test_absent_file_and_missing_directory(tmp_path: t.Any) -> None:
    assert read(str(tmp_path / "none.jwt")) == {"exists": False, "content_sha256": ""}
    assert read(str(tmp_path / "no" / "such.jwt")) is None
    assert read(str(tmp_path / "no" / "such.jwt"), directory_allowed=True) == {"exists": False, "content_sha256": "", "directory_missing": True}


def test_what_the_module_must_look_at_falls_back(tmp_path: t.Any) -> None:
    target = tmp_path / "target"
    target.write_text(TOKEN)
    link = tmp_path / "link.jwt"
    link.symlink_to(target)
    assert read(str(link)) is None
    assert read(str(tmp_path)) is None  # a directory
    big = tmp_path / "big.jwt"
    big.write_bytes(b"x" * (deployed.MAX_TOKEN_BYTES + 1))
    assert read(str(big)) is None
    assert deployed.parse_read("") is None and deployed.parse_read("garbage\n") is None
    assert deployed.parse_read(deployed.MARKER + "file\nnot ls output\n\n") is None


@pytest.mark.parametrize("permissions, mode", [
    ("-rw-------", 0o600), ("-rw-r-----.", 0o640), ("-rwxr-xr-x+", 0o755), ("-rwsr-S--T", 0o7740), ("-rw-rw-rw-@", 0o666),
])
def test_mode_of(permissions: str, mode: int) -> None:
    assert deployed.mode_of(permissions) == mode


def test_mode_of_refuses_what_is_not_a_regular_file() -> None:
    assert deployed.mode_of("drwx------") is None and deployed.mode_of("lrwxrwxrwx") is None and deployed.mode_of("") is None


@pytest.mark.parametrize("dest, shell, mode, other, expected", [
    ("/etc/izuma/t.jwt", "sh", "0600", [], True),
    ("/etc/izuma/t.jwt", "sh", 384, [], True),
    ("/etc/izuma/t.jwt", "sh", "600", [], True),
    ("/etc/izuma/t.jwt", "powershell", "0600", [], False),
    ("relative/t.jwt", "sh", "0600", [], False),
    ("~/t.jwt", "sh", "0600", [], False),
    ("/etc/izuma/t.jwt", "sh", "u=rw,g=,o=", [], False),
    ("/etc/izuma/t.jwt", "sh", "0600", ["setype"], False),
])
def test_can_read(dest: str, shell: str, mode: t.Any, other: t.List[str], expected: bool) -> None:
    assert deployed.can_read(dest, shell, mode, other) is expected


def test_attributes_differ() -> None:
    observed = {"exists": True, "mode": "0600", "uid": 1000, "gid": 1001, "owner": "svc", "group": "svc"}
    assert not deployed.attributes_differ(observed, None, None, "0600")
    assert not deployed.attributes_differ(observed, "svc", "1001", 0o600)
    assert not deployed.attributes_differ(observed, "1000", "svc", "600")
    assert deployed.attributes_differ(observed, "root", None, "0600")
    assert deployed.attributes_differ(observed, None, "wheel", "0600")
    assert deployed.attributes_differ(observed, None, None, "0640")
    assert deployed.attributes_differ({"exists": False}, None, None, "0600")


def application_with_key(admin_client: IzumaClient) -> t.Tuple[str, t.Any]:
    """An application in no group with one verification key; its id and private key."""
    app = admin_client.create("/v3/applications", {"name": "verify-me"})
    key = keys.generate_private_key("EC", curve="P-256")
    pem = certs.dump_certificate(issuing.create_certificate(key, "verify-me", 30))
    admin_client.create("/v3/applications/%s/verification-keys" % app["id"], {"name": "signing", "certificate": pem})
    return app["id"], key


def test_verify_token_accepts_a_token_signed_by_an_uploaded_key(emulator: ThreadedEmulator, admin_client: IzumaClient) -> None:
    application_id, key = application_with_key(admin_client)
    emulator.clear_log()
    options = {"api_host": emulator.url}
    deployed.verify_token(tokens.sign_token(key, lifetime=600), application_id, options.get)
    entries = emulator.log()
    assert [(entry["method"], entry["path"], entry["auth"]) for entry in entries] == [
        ("GET", "/v3/applications/" + application_id, "jwt")]


def test_verify_token_refusal_names_the_status_and_never_the_token(emulator: ThreadedEmulator, admin_client: IzumaClient) -> None:
    application_id = application_with_key(admin_client)[0]
    stranger = tokens.sign_token(keys.generate_private_key("EC", curve="P-256"), lifetime=600)
    with pytest.raises(IzumaError) as caught:
        deployed.verify_token(stranger, application_id, {"api_host": emulator.url}.get)
    assert "the API refused the token (HTTP 401" in str(caught.value)
    assert stranger not in str(caught.value) and stranger.split(".")[2] not in str(caught.value)

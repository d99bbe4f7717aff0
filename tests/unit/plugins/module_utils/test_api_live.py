# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API client against the real emulator: TLS verification, JWT authentication, retries over HTTP, pagination."""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, Iterator, Optional

import pytest

from izuma_emulator.testing import ThreadedEmulator, start_in_thread

from ansible_collections.izuma.device_management.plugins.module_utils._x509 import certificates as certs
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import issuing
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys
from ansible_collections.izuma.device_management.plugins.module_utils._api import IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._api_config import ClientConfig
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaApiError


@pytest.fixture(scope="module")
def tls_emulator() -> Iterator[ThreadedEmulator]:
    server = start_in_thread(tls=True)
    yield server
    server.stop()


def test_tls_with_the_emulators_ca_bundle_succeeds(tls_emulator: ThreadedEmulator) -> None:
    client = IzumaClient(ClientConfig(api_host=tls_emulator.url, api_key=tls_emulator.admin_key, ca_path=tls_emulator.ca_bundle))
    assert tls_emulator.url.startswith("https://")
    assert client.list("/v3/applications") == []


def test_tls_without_the_ca_bundle_fails_verification_with_advice(tls_emulator: ThreadedEmulator) -> None:
    client = IzumaClient(ClientConfig(api_host=tls_emulator.url, api_key=tls_emulator.admin_key, retries=3))
    with pytest.raises(IzumaApiError) as info:
        client.list("/v3/applications")
    assert info.value.type == "tls_error"
    assert "ca_path" in str(info.value)
    assert client.request_count == 1  # a TLS failure is not retried
    assert tls_emulator.admin_key not in str(info.value)


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_verification_can_be_turned_off(tls_emulator: ThreadedEmulator) -> None:
    client = IzumaClient(ClientConfig(api_host=tls_emulator.url, api_key=tls_emulator.admin_key, validate_certs=False))
    assert client.list("/v3/applications") == []
    assert ["validate_certs is false" in warning for warning in client.warnings] == [True]  # and never silently


def jwt_application(admin_client: IzumaClient, tmp_path: Any, group: str = "Administrators") -> Dict[str, Any]:
    groups = {g["name"]: g["id"] for g in admin_client.list("/v3/policy-groups")}
    app = admin_client.create("/v3/applications", {"name": "jwt-" + group, "groups": [groups[group]]})
    key = keys.generate_private_key("EC", curve="P-256")
    pem = certs.dump_certificate(issuing.create_certificate(key, "jwt", 30))
    admin_client.create("/v3/applications/%s/verification-keys" % app["id"], {"name": "jwt", "certificate": pem})
    path = tmp_path / "jwt.key"
    path.write_bytes(keys.dump_private_key(key))
    return {"app": app, "key_path": str(path)}


def test_jwt_authentication_signs_its_own_tokens_and_reuses_them(emulator: ThreadedEmulator, admin_client: IzumaClient, tmp_path: Any) -> None:
    setup = jwt_application(admin_client, tmp_path)
    clock = [time.time()]
    client = IzumaClient(ClientConfig(api_host=emulator.url, auth_application_id=setup["app"]["id"],
                                      auth_private_key_path=setup["key_path"]), clock=lambda: clock[0])
    emulator.clear_log()
    assert [a["name"] for a in client.list("/v3/applications")] == ["jwt-Administrators"]
    first = client.auth.headers()["Authorization"]
    assert client.auth.headers()["Authorization"] == first  # reused while fresh
    clock[0] += 250  # within the refresh margin of the 300 s token: a new one is signed
    assert client.auth.headers()["Authorization"] != first
    assert client.get("/v3/applications/%s" % setup["app"]["id"])["id"] == setup["app"]["id"]
    assert {entry["auth"] for entry in emulator.log()} == {"jwt"}


def test_jwt_authentication_is_refused_once_the_key_is_inactive(emulator: ThreadedEmulator, admin_client: IzumaClient, tmp_path: Any) -> None:
    setup = jwt_application(admin_client, tmp_path)
    [key] = admin_client.list("/v3/applications/%s/verification-keys" % setup["app"]["id"])
    admin_client.update("/v3/applications/%s/verification-keys/%s" % (setup["app"]["id"], key["id"]), {"status": "INACTIVE"})
    client = IzumaClient(ClientConfig(api_host=emulator.url, auth_application_id=setup["app"]["id"],
                                      auth_private_key_path=setup["key_path"], retries=0))
    with pytest.raises(IzumaApiError) as info:
        client.list("/v3/applications")
    assert (info.value.status, info.value.type) == (401, "invalid_token")


def test_developers_application_may_read_itself_only(emulator: ThreadedEmulator, admin_client: IzumaClient, tmp_path: Any) -> None:
    setup = jwt_application(admin_client, tmp_path, group="Developers")
    client = IzumaClient(ClientConfig(api_host=emulator.url, auth_application_id=setup["app"]["id"],
                                      auth_private_key_path=setup["key_path"], retries=0))
    assert client.get("/v3/applications/%s" % setup["app"]["id"])["name"] == "jwt-Developers"
    with pytest.raises(IzumaApiError) as info:
        client.list("/v3/applications")
    assert (info.value.status, info.value.type) == (403, "access_denied")


def test_retries_over_http_honour_the_emulators_retry_after(emulator: ThreadedEmulator, admin_client: IzumaClient) -> None:
    emulator.faults({"method": "GET", "path": "^/v3/applications$",
                     "sequence": [{"status": 503, "retry_after": "1"}, {"status": 429, "retry_after": "2"}]})
    sleeps = []
    client = IzumaClient(ClientConfig(api_host=emulator.url, api_key=emulator.admin_key), sleep=sleeps.append)
    assert client.list("/v3/applications") == []
    assert sleeps == [1.0, 2.0]
    assert [entry["status"] for entry in emulator.log()] == [503, 429, 200]


def test_a_post_whose_answer_was_lost_is_read_back_not_repeated(emulator: ThreadedEmulator) -> None:
    emulator.faults({"method": "POST", "path": "^/v3/applications$", "drop": "after", "nth": 1})
    client = IzumaClient(ClientConfig(api_host=emulator.url, api_key=emulator.admin_key), sleep=lambda seconds: None)
    created = client.create("/v3/applications", {"name": "once"},
                            read_back=lambda: next((a for a in client.list("/v3/applications") if a["name"] == "once"), None))
    assert created["name"] == "once"
    assert [a["name"] for a in client.list("/v3/applications")] == ["once"]
    assert [entry["method"] for entry in emulator.log() if entry["method"] == "POST"] == ["POST"]


class AfterFirstRequest:
    """Wraps a requests session and calls ``then`` once, right after the first request (whatever its outcome)."""

    def __init__(self, inner: Any, then: Callable[[], Any]) -> None:
        self.inner = inner
        self.then: Optional[Callable[[], Any]] = then

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        try:
            return self.inner.request(method, url, **kwargs)
        finally:
            then, self.then = self.then, None
            if then is not None:
                then()


def test_a_put_whose_answer_was_lost_is_read_back_not_repeated_with_a_stale_etag(emulator: ThreadedEmulator, admin_client: IzumaClient) -> None:
    app = admin_client.create("/v3/applications", {"name": "put-once", "description": "old"})
    path = "/v3/applications/" + app["id"]
    emulator.faults({"method": "PUT", "path": "^/v3/applications/", "drop": "after", "nth": 1})
    emulator.clear_log()
    client = IzumaClient(ClientConfig(api_host=emulator.url, api_key=emulator.admin_key), sleep=lambda seconds: None)
    updated = client.update(path, {"description": "new"}, etag=app["etag"])
    assert updated["description"] == "new" and updated["etag"] != app["etag"]
    # The server committed the PUT before dropping the connection: one PUT, its read-back, and no 412.
    assert [(entry["method"], entry["status"]) for entry in emulator.log()] == [("PUT", 0), ("GET", 200)]


def test_a_put_dropped_before_it_was_applied_is_sent_again_with_the_etag_read_back(emulator: ThreadedEmulator, admin_client: IzumaClient) -> None:
    app = admin_client.create("/v3/applications", {"name": "put-again", "description": "old"})
    path = "/v3/applications/" + app["id"]
    emulator.faults({"method": "PUT", "path": "^/v3/applications/", "drop": "before", "nth": 1})
    client = IzumaClient(ClientConfig(api_host=emulator.url, api_key=emulator.admin_key), sleep=lambda seconds: None)
    # The PUT's connection drops before the server applies it, and another writer renames the application meanwhile:
    # the etag the task holds is stale. Sent again with it, the PUT would get 412; read back, it goes through.
    client.session = AfterFirstRequest(client.session, lambda: admin_client.update(path, {"name": "put-again-renamed"}))
    emulator.clear_log()
    updated = client.update(path, {"description": "new"}, etag=app["etag"])
    assert (updated["name"], updated["description"]) == ("put-again-renamed", "new")
    assert [(entry["method"], entry["status"]) for entry in emulator.log()] == [("PUT", 0), ("PUT", 200), ("GET", 200), ("PUT", 200)]


def test_a_delete_whose_answer_was_lost_is_done_once_the_object_is_gone(emulator: ThreadedEmulator, admin_client: IzumaClient) -> None:
    app = admin_client.create("/v3/applications", {"name": "delete-once"})
    path = "/v3/applications/" + app["id"]
    emulator.faults({"method": "DELETE", "path": "^/v3/applications/", "drop": "after", "nth": 1})
    emulator.clear_log()
    client = IzumaClient(ClientConfig(api_host=emulator.url, api_key=emulator.admin_key), sleep=lambda seconds: None)
    assert client.delete(path, etag=app["etag"]) is False
    assert admin_client.get_or_none(path) is None
    assert [(entry["method"], entry["status"]) for entry in emulator.log()][:2] == [("DELETE", 0), ("GET", 404)]


def test_pagination_reads_every_page(emulator: ThreadedEmulator, admin_client: IzumaClient) -> None:
    emulator.settings(max_applications=30)
    for number in range(25):
        admin_client.create("/v3/applications", {"name": "app-%02d" % number})
    emulator.clear_log()
    names = [a["name"] for a in admin_client.list("/v3/applications", page_size=10)]
    # Creation times can tie within a millisecond (ties are ordered by id), so compare as a sorted list: all, once each.
    assert sorted(names) == ["app-%02d" % number for number in range(25)]
    assert len(emulator.log()) == 3

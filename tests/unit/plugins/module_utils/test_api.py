# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the API client: retries, Retry-After, no blind POST retry, pagination, TLS options, errors."""

from __future__ import annotations

import email.utils
import http.client
import json
from typing import Any, Dict, List, Optional

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from ansible_collections.izuma.device_management.plugins.module_utils._api import IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._api_config import ClientConfig
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaApiError, IzumaConfigError
from ansible_collections.izuma.device_management.plugins.module_utils._retry import holds, parse_retry_after

HOST = "https://api.example.test"
API_KEY = "ak_0123456789abcdef0123456789abcdef"


class FakeResponse:
    """The parts of requests.Response the client reads."""

    def __init__(self, status: int, body: Any = None, headers: Optional[Dict[str, str]] = None, text: Optional[str] = None) -> None:
        self.status_code = status
        self.headers = headers or {}
        self.reason = "Reason"
        if text is not None:
            self.content = text.encode()
        elif body is None:
            self.content = b""
        else:
            self.content = json.dumps(body).encode()

    def json(self) -> Any:
        return json.loads(self.content.decode())


class FakeSession:
    """Answers requests from a script: each item is a FakeResponse or an exception to raise."""

    def __init__(self, script: List[Any]) -> None:
        self.script = list(script)
        self.calls: List[Dict[str, Any]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> FakeResponse:
        self.calls.append(dict(kwargs, method=method, url=url, params=dict(kwargs.get("params") or {})))
        answer = self.script.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def error(status: int, error_type: str, message: str = "went wrong", **extra: Any) -> Dict[str, Any]:
    return dict({"object": "error", "code": status, "type": error_type, "message": message,
                 "request_id": "f" * 32}, **extra)


def make_client(script: List[Any], **config: Any) -> "tuple[IzumaClient, FakeSession, List[float]]":
    session = FakeSession(script)
    sleeps: List[float] = []
    options = dict(api_host=HOST, api_key=API_KEY)
    options.update(config)
    client = IzumaClient(ClientConfig(**options), session=session, sleep=sleeps.append, clock=lambda: 1_000_000.0,
                         rng=lambda: 0.5, backoff_base=1.0, backoff_cap=8.0)
    return client, session, sleeps


def refused() -> requests.exceptions.ConnectionError:
    """What requests raises when the connection is refused (test_api_connections.py checks it against a real socket)."""
    connect = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    connect.__cause__ = ConnectionRefusedError(111, "Connection refused")
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/v3/applications", reason=connect))


def reset_after_send() -> requests.exceptions.ConnectionError:
    """What requests raises when the server closes the connection after reading the request, without answering."""
    return requests.exceptions.ConnectionError(
        ProtocolError("Connection aborted.", http.client.RemoteDisconnected("Remote end closed connection without response")))


# -- retries and backoff ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_get_is_retried_on_transient_statuses(status: int) -> None:
    client, session, sleeps = make_client([FakeResponse(status, error(status, "system_unavailable")), FakeResponse(200, {"id": "a"})])
    assert client.get("/v3/applications/a") == {"id": "a"}
    assert len(session.calls) == 2
    assert sleeps == [0.5]  # rng 0.5 * min(cap 8, base 1 * 2**0)


def test_backoff_is_exponential_full_jitter_and_capped() -> None:
    script = [FakeResponse(503, error(503, "system_unavailable")) for _attempt in range(6)] + [FakeResponse(200, {})]
    client, session, sleeps = make_client(script, retries=6)
    client.get("/v3/applications")
    # 0.5 * min(8, 1, 2, 4, 8, 16, 32)
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert len(session.calls) == 7


def test_gives_up_after_the_configured_retries_with_the_last_error() -> None:
    script = [FakeResponse(503, error(503, "system_unavailable", "maintenance")) for _attempt in range(3)]
    client, session, sleeps = make_client(script, retries=2)
    with pytest.raises(IzumaApiError) as info:
        client.get("/v3/applications")
    assert info.value.status == 503
    assert info.value.type == "system_unavailable"
    assert len(session.calls) == 3
    assert len(sleeps) == 2


def test_client_errors_are_not_retried() -> None:
    client, session, sleeps = make_client([FakeResponse(400, error(400, "validation_error"))])
    with pytest.raises(IzumaApiError):
        client.get("/v3/applications")
    assert len(session.calls) == 1
    assert sleeps == []


def test_retry_after_seconds_is_honoured() -> None:
    client, _session, sleeps = make_client([FakeResponse(429, error(429, "rate_limit_exceeded"), {"Retry-After": "7"}), FakeResponse(200, {})])
    client.get("/v3/applications")
    assert sleeps == [7.0]


def test_retry_after_http_date_is_honoured() -> None:
    when = email.utils.formatdate(1_000_000.0 + 12, usegmt=True)
    client, _session, sleeps = make_client([FakeResponse(503, error(503, "system_unavailable"), {"Retry-After": when}), FakeResponse(200, {})])
    client.get("/v3/applications")
    assert sleeps == [12.0]


def test_retry_after_is_capped() -> None:
    client, _session, sleeps = make_client([FakeResponse(429, error(429, "rate_limit_exceeded"), {"Retry-After": "3600"}), FakeResponse(200, {})],
                                           retry_after_cap=30.0)
    client.get("/v3/applications")
    assert sleeps == [30.0]


def test_unreadable_retry_after_falls_back_to_backoff() -> None:
    client, _session, sleeps = make_client([FakeResponse(503, error(503, "system_unavailable"), {"Retry-After": "soon"}), FakeResponse(200, {})])
    client.get("/v3/applications")
    assert sleeps == [0.5]


@pytest.mark.parametrize("value, expected", [("0", 0.0), ("120", 120.0), ("", None), (None, None), ("garbage", None),
                                             ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0)])
def test_parse_retry_after(value: Optional[str], expected: Optional[float]) -> None:
    assert parse_retry_after(value, now=1_000_000.0) == expected


def test_get_is_retried_after_a_connection_error() -> None:
    client, session, _sleeps = make_client([reset_after_send(), FakeResponse(200, {"id": "a"})])
    assert client.get("/v3/applications/a") == {"id": "a"}
    assert len(session.calls) == 2


# -- no blind POST retry ---------------------------------------------------------------------------------


@pytest.mark.parametrize("failure", [FakeResponse(502, error(502, "internal_server_error")), FakeResponse(504, None, text="gateway"),
                                     reset_after_send(), requests.exceptions.ReadTimeout("read timed out")])
def test_post_after_ambiguous_failure_reads_back_and_does_not_post_again(failure: Any) -> None:
    client, session, _sleeps = make_client([failure])
    created = {"id": "b" * 32, "name": "x"}
    lookups: List[int] = []

    def read_back() -> Dict[str, Any]:
        lookups.append(1)
        return created

    assert client.create("/v3/applications", {"name": "x"}, read_back=read_back) == created
    assert [call["method"] for call in session.calls] == ["POST"]
    assert lookups == [1]


def test_post_after_ambiguous_failure_is_retried_when_read_back_finds_nothing() -> None:
    created = {"id": "c" * 32, "name": "x"}
    client, session, _sleeps = make_client([FakeResponse(502, error(502, "internal_server_error")), FakeResponse(201, created)])
    assert client.create("/v3/applications", {"name": "x"}, read_back=lambda: None) == created
    assert [call["method"] for call in session.calls] == ["POST", "POST"]


def test_post_without_read_back_is_never_retried_after_an_ambiguous_failure() -> None:
    client, session, _sleeps = make_client([reset_after_send(), FakeResponse(201, {})])
    with pytest.raises(IzumaApiError) as info:
        client.create("/v3/applications", {"name": "x"})
    assert "not sent again blindly" in str(info.value)
    assert len(session.calls) == 1


@pytest.mark.parametrize("failure", [FakeResponse(429, error(429, "rate_limit_exceeded")), FakeResponse(503, error(503, "system_unavailable")),
                                     refused(), requests.exceptions.ConnectTimeout("connect timed out")])
def test_post_is_retried_without_read_back_when_the_server_did_not_act(failure: Any) -> None:
    created = {"id": "d" * 32}

    def read_back() -> None:
        raise AssertionError("no read-back needed: the request was certainly not carried out")

    client, session, _sleeps = make_client([failure, FakeResponse(201, created)])
    assert client.create("/v3/applications", {"name": "x"}, read_back=read_back) == created
    assert len(session.calls) == 2


def test_delete_that_finds_the_object_gone_reports_false() -> None:
    client, session, _sleeps = make_client([reset_after_send(), FakeResponse(404, error(404, "not_found"))])
    assert client.delete("/v3/applications/" + "e" * 32) is False
    assert len(session.calls) == 2


def test_update_and_delete_send_if_match() -> None:
    client, session, _sleeps = make_client([FakeResponse(200, {"id": "a"}), FakeResponse(204)])
    client.update("/v3/applications/a", {"description": "d"}, etag="3")
    assert client.delete("/v3/applications/a", etag="4") is True
    assert session.calls[0]["headers"]["If-Match"] == "3"
    assert session.calls[1]["headers"]["If-Match"] == "4"


# -- no stale If-Match after an ambiguous PUT or DELETE -----------------------------------------------------

AMBIGUOUS = [FakeResponse(502, error(502, "internal_server_error")), FakeResponse(504, None, text="gateway"),
             reset_after_send(), requests.exceptions.ReadTimeout("read timed out")]
NOT_DONE = [FakeResponse(429, error(429, "rate_limit_exceeded")), FakeResponse(503, error(503, "system_unavailable")),
            refused(), requests.exceptions.ConnectTimeout("connect timed out")]
APP = "/v3/applications/" + "a" * 32


def methods(session: FakeSession) -> List[str]:
    return [call["method"] for call in session.calls]


@pytest.mark.parametrize("failure", AMBIGUOUS)
def test_put_that_the_server_holds_after_an_ambiguous_failure_is_done(failure: Any) -> None:
    held = {"id": "a" * 32, "description": "new", "groups": ["g2", "g1"], "etag": "4"}
    client, session, _sleeps = make_client([failure, FakeResponse(200, held)])
    assert client.update(APP, {"description": "new", "groups": ["g1", "g2"]}, etag="3") == held
    assert methods(session) == ["PUT", "GET"]


@pytest.mark.parametrize("failure", AMBIGUOUS)
def test_put_not_carried_out_is_sent_again_with_the_etag_read_back(failure: Any) -> None:
    # The object changed meanwhile (etag 3 -> 5) without taking this PUT's description: the old etag would get 412.
    current = {"id": "a" * 32, "description": "old", "etag": "5"}
    updated = dict(current, description="new", etag="6")
    client, session, _sleeps = make_client([failure, FakeResponse(200, current), FakeResponse(200, updated)])
    assert client.update(APP, {"description": "new"}, etag="3") == updated
    assert methods(session) == ["PUT", "GET", "PUT"]
    assert [call["headers"].get("If-Match") for call in session.calls] == ["3", None, "5"]
    assert session.calls[2]["json"] == {"description": "new"}


@pytest.mark.parametrize("failure", NOT_DONE)
def test_put_the_server_did_not_act_on_is_sent_again_unchanged(failure: Any) -> None:
    client, session, _sleeps = make_client([failure, FakeResponse(200, {"id": "a" * 32, "etag": "4"})])
    client.update(APP, {"description": "new"}, etag="3")
    assert methods(session) == ["PUT", "PUT"]
    assert [call["headers"]["If-Match"] for call in session.calls] == ["3", "3"]


def test_put_without_an_etag_is_sent_again_without_one() -> None:
    client, session, _sleeps = make_client([reset_after_send(), FakeResponse(200, {"description": "old", "etag": "2"}),
                                            FakeResponse(200, {"description": "new", "etag": "3"})])
    client.update(APP, {"description": "new"})
    assert methods(session) == ["PUT", "GET", "PUT"]
    assert "If-Match" not in session.calls[2]["headers"]


def test_put_whose_object_is_gone_on_read_back_fails_clearly() -> None:
    client, session, _sleeps = make_client([FakeResponse(502, error(502, "internal_server_error")), FakeResponse(404, error(404, "not_found"))])
    with pytest.raises(IzumaApiError) as info:
        client.update(APP, {"description": "new"}, etag="3")
    assert (info.value.status, info.value.method) == (404, "PUT")
    assert "deleted while it was being updated" in str(info.value)
    assert methods(session) == ["PUT", "GET"]


@pytest.mark.parametrize("failure", AMBIGUOUS)
def test_delete_whose_object_is_gone_on_read_back_is_done(failure: Any) -> None:
    client, session, _sleeps = make_client([failure, FakeResponse(404, error(404, "not_found"))])
    assert client.delete(APP, etag="3") is False
    assert methods(session) == ["DELETE", "GET"]


@pytest.mark.parametrize("failure", AMBIGUOUS)
def test_delete_not_carried_out_is_sent_again_with_the_etag_read_back(failure: Any) -> None:
    client, session, _sleeps = make_client([failure, FakeResponse(200, {"id": "a" * 32, "etag": "7"}), FakeResponse(204)])
    assert client.delete(APP, etag="3") is True
    assert methods(session) == ["DELETE", "GET", "DELETE"]
    assert session.calls[2]["headers"]["If-Match"] == "7"


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_a_write_without_read_back_is_never_sent_again_after_an_ambiguous_failure(method: str) -> None:
    client, session, _sleeps = make_client([FakeResponse(504, None, text="gateway"), FakeResponse(200, {})])
    with pytest.raises(IzumaApiError) as info:
        client.request(method, APP, body={"description": "x"} if method == "PUT" else None, headers={"If-Match": "3"})
    assert "not sent again blindly" in str(info.value)
    assert len(session.calls) == 1


def test_the_exception_types_decide_not_their_text() -> None:
    # A reset after sending whose text happens to read like a refusal is still ambiguous (the old check matched text).
    misleading = requests.exceptions.ConnectionError(
        ProtocolError("Connection aborted.", ConnectionResetError(104, "NewConnectionError [Errno 111] Connection refused")))
    client, session, _sleeps = make_client([misleading, FakeResponse(200, {"description": "new", "etag": "4"})])
    client.update(APP, {"description": "new"}, etag="3")
    assert methods(session) == ["PUT", "GET"]


@pytest.mark.parametrize("current, body, expected", [
    ({"description": "", "etag": "2"}, {"description": None}, True),  # the API stores a null description as ""
    ({"groups": ["b", "a"]}, {"groups": ["a", "b", "a"]}, True),  # any order, duplicates collapse
    ({"certificate": "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----"},
     {"certificate": "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n"}, True),
    ({"certificate": "-----BEGIN CERTIFICATE-----\r\nAB\r\nCD\r\n-----END CERTIFICATE-----"},
     {"certificate": "-----BEGIN CERTIFICATE-----\nABCD\n-----END CERTIFICATE-----\n"}, True),  # rewrapped
    ({"certificate": "-----BEGIN CERTIFICATE-----\nABCE\n-----END CERTIFICATE-----"},
     {"certificate": "-----BEGIN CERTIFICATE-----\nABCD\n-----END CERTIFICATE-----\n"}, False),
    ({"description": "a  b"}, {"description": "a b"}, False),  # only PEM ignores inner whitespace
    ({"status": "ACTIVE", "name": "n"}, {"status": "INACTIVE"}, False),
    ({"groups": ["a"]}, {"groups": ["a", "b"]}, False),
    ({}, {"description": "d"}, False),
])
def test_holds_compares_a_read_back_the_way_the_api_stores_values(current: Dict[str, Any], body: Dict[str, Any], expected: bool) -> None:
    assert holds(current, body) is expected


# -- pagination --------------------------------------------------------------------------------------------


def test_list_follows_has_more_and_after_to_the_end() -> None:
    pages = [
        FakeResponse(200, {"object": "list", "data": [{"id": "1"}, {"id": "2"}], "has_more": True}),
        FakeResponse(200, {"object": "list", "data": [{"id": "3"}, {"id": "4"}], "has_more": True}),
        FakeResponse(200, {"object": "list", "data": [{"id": "5"}], "has_more": False}),
    ]
    client, session, _sleeps = make_client(pages)
    assert [item["id"] for item in client.list("/v3/applications", params={"status__eq": "ACTIVE"})] == ["1", "2", "3", "4", "5"]
    assert [call["params"].get("after") for call in session.calls] == [None, "2", "4"]
    assert all(call["params"]["limit"] == 1000 and call["params"]["status__eq"] == "ACTIVE" for call in session.calls)


def test_list_stops_on_an_empty_page_even_if_has_more_is_set() -> None:
    client, session, _sleeps = make_client([FakeResponse(200, {"object": "list", "data": [], "has_more": True})])
    assert client.list("/v3/applications") == []
    assert len(session.calls) == 1


# -- errors ----------------------------------------------------------------------------------------------


def test_error_envelope_is_mapped_to_one_exception() -> None:
    body = error(400, "validation_error", "Validation error", fields=[{"name": "name", "message": "Name is required."}])
    client, _session, _sleeps = make_client([FakeResponse(400, body)])
    with pytest.raises(IzumaApiError) as info:
        client.create("/v3/applications", {})
    exc = info.value
    assert (exc.status, exc.type, exc.request_id) == (400, "validation_error", "f" * 32)
    assert exc.fields == [{"name": "name", "message": "Name is required."}]
    text = str(exc)
    assert text.startswith("POST /v3/applications failed: 400 validation_error: Validation error")
    assert "name: Name is required." in text and "request_id " + "f" * 32 in text
    assert exc.to_dict()["type"] == "validation_error"


def test_non_json_error_body_is_still_a_clean_error() -> None:
    client, _session, _sleeps = make_client([FakeResponse(500, None, text="<html>boom</html>")])
    with pytest.raises(IzumaApiError) as info:
        client.get("/v3/applications")
    assert info.value.status == 500
    assert "HTTP 500" in str(info.value)


def test_no_secret_in_errors_or_config_repr() -> None:
    client, _session, _sleeps = make_client([FakeResponse(401, error(401, "invalid_auth")), ])
    with pytest.raises(IzumaApiError) as info:
        client.get("/v3/applications")
    assert API_KEY not in str(info.value)
    assert API_KEY not in repr(info.value.to_dict())
    assert API_KEY not in repr(client.config)


def test_get_or_none_maps_404_to_none() -> None:
    client, _session, _sleeps = make_client([FakeResponse(404, error(404, "not_found"))])
    assert client.get_or_none("/v3/applications/" + "a" * 32) is None


def test_access_key_is_sent_as_bearer() -> None:
    client, session, _sleeps = make_client([FakeResponse(200, {})])
    client.get("/v3/applications")
    assert session.calls[0]["headers"]["Authorization"] == "Bearer " + API_KEY
    assert session.calls[0]["url"] == HOST + "/v3/applications"
    assert session.calls[0]["timeout"] == 30.0


# -- TLS and configuration ---------------------------------------------------------------------------------


@pytest.mark.parametrize("options, verify", [({}, True), ({"ca_path": "/etc/ca.pem"}, "/etc/ca.pem"),
                                             ({"validate_certs": False, "ca_path": "/etc/ca.pem"}, False)])
def test_tls_options_reach_every_request(options: Dict[str, Any], verify: Any) -> None:
    client, session, _sleeps = make_client([FakeResponse(200, {})], **options)
    client.get("/v3/applications")
    assert session.calls[0]["verify"] == verify


def test_tls_failure_is_explained_and_not_retried() -> None:
    client, session, _sleeps = make_client([requests.exceptions.SSLError("certificate verify failed"), FakeResponse(200, {})])
    with pytest.raises(IzumaApiError) as info:
        client.get("/v3/applications")
    assert "ca_path" in str(info.value)
    assert len(session.calls) == 1


@pytest.mark.parametrize("options, words", [
    ({"api_host": "ftp://x"}, "api_host"),
    ({"api_key": "secret-without-prefix"}, "ak_"),
    ({"api_key": None}, "No credentials"),
    ({"api_key": None, "auth_application_id": "nothex", "auth_private_key_path": "/k.pem"}, "auth_application_id"),
    ({"timeout": 0}, "timeout"),
])
def test_bad_configuration_is_refused_with_the_option_named(options: Dict[str, Any], words: str) -> None:
    values = dict(api_host=HOST, api_key=API_KEY)
    values.update(options)
    with pytest.raises(IzumaConfigError) as info:
        ClientConfig.from_options(values.get)
    assert words in str(info.value)
    assert "secret-without-prefix" not in str(info.value)


def test_access_key_wins_over_jwt_options() -> None:
    config = ClientConfig(api_host=HOST, api_key=API_KEY, auth_application_id="a" * 32, auth_private_key_path="/k.pem")
    assert config.auth_method == "access_key"
    assert ClientConfig(api_host=HOST, auth_application_id="a" * 32, auth_private_key_path="/k.pem").auth_method == "jwt"


# -- warnings and identity --------------------------------------------------------------------------------


def test_tls_verification_off_is_a_warning_naming_the_option() -> None:
    client, _session, _sleeps = make_client([], validate_certs=False)
    [warning] = client.warnings
    assert "TLS certificate verification is off (validate_certs is false)" in warning
    assert "ca_path" in warning and API_KEY not in warning


def test_tls_verification_off_from_the_environment_names_the_variable() -> None:
    values = dict(api_host=HOST, api_key=API_KEY, validate_certs=False)
    config = ClientConfig.from_options(values.get, sources={"validate_certs": "IZUMA_VALIDATE_CERTS"})
    assert config.warnings() == IzumaClient(config, session=FakeSession([])).warnings
    [warning] = config.warnings()
    assert "IZUMA_VALIDATE_CERTS is false in the environment" in warning


@pytest.mark.parametrize("options", [{}, {"ca_path": "/etc/ca.pem"}, {"api_host": "http://127.0.0.1:8080"}])
def test_no_warning_while_tls_verification_is_on(options: Dict[str, Any]) -> None:
    client, _session, _sleeps = make_client([], **options)
    assert client.warnings == []


def test_user_agent_names_the_collection_without_a_copy_of_its_version() -> None:
    client = IzumaClient(ClientConfig(api_host=HOST, api_key=API_KEY))
    assert client.session.headers["User-Agent"] == "izuma.device_management python-requests/" + requests.__version__

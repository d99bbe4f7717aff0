# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the client tells connection failures apart, with real sockets on 127.0.0.1 and the real requests stack.

A refused connection cannot have delivered anything, so even a write is sent again without a read-back. A
connection closed after the request was sent, and a read timeout, may hide a change the server made: a write is
read back first. The client decides this from the exception types of requests and urllib3, not from their text.
"""

from __future__ import annotations

import socket
import threading
from typing import Any, Iterator, List

import pytest

from ansible_collections.izuma.device_management.plugins.module_utils._api import IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._api_config import ClientConfig
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaApiError

API_KEY = "ak_0123456789abcdef0123456789abcdef"
APP = "/v3/applications/" + "a" * 32


class SilentServer:
    """Accepts connections and reads each request; then closes the connection (``close``) or never answers (``hang``)."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.requests: List[bytes] = []
        self._held: List[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _address = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            self.requests.append(data)
            if self.behaviour == "close":
                conn.close()
            else:
                self._held.append(conn)

    def stop(self) -> None:
        self._stop.set()
        self.listener.close()
        self._thread.join(5)
        for conn in self._held:
            conn.close()


@pytest.fixture
def closing_server() -> Iterator[SilentServer]:
    server = SilentServer("close")
    yield server
    server.stop()


@pytest.fixture
def hanging_server() -> Iterator[SilentServer]:
    server = SilentServer("hang")
    yield server
    server.stop()


def client_for(port: int, **options: Any) -> IzumaClient:
    return IzumaClient(ClientConfig(api_host="http://127.0.0.1:%d" % port, api_key=API_KEY, **options), sleep=lambda seconds: None)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on: bound, then released without listen()."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_refused_connection_is_a_connect_error() -> None:
    client = client_for(closed_port(), retries=0)
    with pytest.raises(IzumaApiError) as info:
        client.get(APP)
    assert info.value.type == "connect_error"
    assert "refused the connection" in str(info.value) and "api_host (IZUMA_API_HOST)" in str(info.value)
    assert "(1 try over " in str(info.value) and "retries (IZUMA_RETRIES) is 0" in str(info.value)


def test_a_host_name_that_does_not_resolve_names_api_host() -> None:
    client = IzumaClient(ClientConfig(api_host="http://no-such-host.invalid", api_key=API_KEY, retries=1), sleep=lambda seconds: None)
    with pytest.raises(IzumaApiError) as info:
        client.get(APP)
    assert info.value.type == "connect_error" and client.request_count == 2
    assert "could not be resolved: check api_host (IZUMA_API_HOST)" in str(info.value) and "(2 tries over " in str(info.value)


def test_a_refused_write_is_sent_again_without_a_read_back() -> None:
    client = client_for(closed_port(), retries=2)
    with pytest.raises(IzumaApiError) as info:
        client.update(APP, {"description": "new"}, etag="3")
    assert info.value.type == "connect_error"
    assert client.request_count == 3  # three PUTs, no GET: the server cannot have seen any of them


def test_a_connection_closed_after_the_request_was_sent_is_ambiguous(closing_server: SilentServer) -> None:
    client = client_for(closing_server.port, retries=0)
    with pytest.raises(IzumaApiError) as info:
        client.get(APP)
    assert info.value.type == "connection_error"
    assert closing_server.requests[0].startswith(b"GET " + APP.encode())


def test_a_write_whose_connection_closed_after_sending_is_read_back(closing_server: SilentServer) -> None:
    client = client_for(closing_server.port, retries=1)
    with pytest.raises(IzumaApiError):
        client.update(APP, {"description": "new"}, etag="3")
    # The PUT, then its read-back (a GET, retried once as the server closes that too): no second PUT without it.
    assert [data.split(b" ", 1)[0] for data in closing_server.requests] == [b"PUT", b"GET", b"GET"]


def test_a_read_timeout_is_a_timeout_and_a_write_is_read_back(hanging_server: SilentServer) -> None:
    client = client_for(hanging_server.port, retries=1, timeout=0.2)
    with pytest.raises(IzumaApiError) as info:
        client.delete(APP, etag="3")
    assert info.value.type == "timeout"
    assert [data.split(b" ", 1)[0] for data in hanging_server.requests] == [b"DELETE", b"GET", b"GET"]

# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTP(S) server: HTTP/1.1 keep-alive, one thread per connection, faults around each API request."""

from __future__ import annotations

import socket
import socketserver
import ssl
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from izuma_emulator.app import EmulatorApp
from izuma_emulator.auth import Principal
from izuma_emulator.certs import TlsFiles
from izuma_emulator.control import handle_control, is_control_path
from izuma_emulator.messages import Response, default_error_type, error_response

# Requests to this API are small; anything bigger is a client bug, refused before reading it.
MAX_BODY_BYTES = 1024 * 1024


class RequestHandler(BaseHTTPRequestHandler):
    """Routes a request to the control interface or, through the fault layer, to the API."""

    protocol_version = "HTTP/1.1"
    server_version = "IzumaEmulator/1.0"
    # Idle keep-alive connections give their thread back after this many seconds.
    timeout = 120
    # Headers and body go out in separate writes; with Nagle's algorithm and delayed ACKs
    # each keep-alive request would then wait ~40 ms for nothing.
    disable_nagle_algorithm = True
    server: EmulatorServer

    def setup(self) -> None:
        """Do the TLS handshake here, in the connection's own thread, not in the accept loop."""
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def do_GET(self) -> None:  # pylint: disable=invalid-name
        """Serve a GET."""
        self._dispatch()

    def do_HEAD(self) -> None:  # pylint: disable=invalid-name
        """Answer HEAD (the API has none: 405 or 404, without a body)."""
        self._dispatch()

    def do_POST(self) -> None:  # pylint: disable=invalid-name
        """Serve a POST."""
        self._dispatch()

    def do_PUT(self) -> None:  # pylint: disable=invalid-name
        """Serve a PUT."""
        self._dispatch()

    def do_DELETE(self) -> None:  # pylint: disable=invalid-name
        """Serve a DELETE."""
        self._dispatch()

    def do_PATCH(self) -> None:  # pylint: disable=invalid-name
        """Answer PATCH (the API has none: 405 or 404)."""
        self._dispatch()

    def do_OPTIONS(self) -> None:  # pylint: disable=invalid-name
        """Answer OPTIONS (the API has none: 405 or 404)."""
        self._dispatch()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer what http.server refuses itself in the API's JSON error envelope instead of its HTML page.

        A method it has no handler for (TRACE, CONNECT, anything else) goes through the API like PATCH does:
        401 without credentials, then 404 or 405 with ``Allow``. Other refusals (a bad request line, headers
        too long) keep their status and close the connection.
        """
        if code == HTTPStatus.NOT_IMPLEMENTED and self.command and self.requestline:
            self._dispatch()
            return
        self.close_connection = True
        reason = message or HTTPStatus(code).phrase
        self._send(error_response(code, default_error_type(code), f"{reason}."))

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silence the default access log; API requests are logged by ``_finish`` instead."""

    def log_message(self, format: str, *args: object) -> None:  # pylint: disable=redefined-builtin
        """Write protocol-level problems to stderr unless ``--quiet``."""
        if not self.server.quiet:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    # ---- request flow -------------------------------------------------------------------

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        body = self._read_body()
        if body is None:
            return
        if is_control_path(url.path):
            self._send(handle_control(self.server.app, self.command, url.path, body))
        else:
            self._serve_api(url.path, url.query, body)

    def _read_body(self) -> bytes | None:
        """Read the body by Content-Length; on bad framing answer 400, close, and return None."""
        problem = None
        length_text = self.headers.get("Content-Length", "0").strip()
        if self.headers.get("Transfer-Encoding"):
            problem = "Chunked request bodies are not supported; send Content-Length."
        elif not length_text.isdigit():
            problem = "Content-Length must be a non-negative integer."
        elif int(length_text) > MAX_BODY_BYTES:
            problem = f"The request body is larger than {MAX_BODY_BYTES} bytes."
        if problem is None:
            return self.rfile.read(int(length_text))
        # The unread body would be taken for the next request: the connection cannot go on.
        self.close_connection = True
        self._send(error_response(400, "validation_error", problem))
        return None

    def _serve_api(self, path: str, query: str, body: bytes) -> None:
        app = self.server.app
        method = self.command
        plan = app.faults.plan(method, path)
        if plan.delay:
            time.sleep(plan.delay)
        if plan.hang == "before":
            app.faults.hang(method, path, plan.hang_seconds)
        if plan.drop == "before":
            self._drop(path, query, None)
            return
        if plan.answer is not None:
            headers = {"Retry-After": str(plan.answer["retry_after"])} if "retry_after" in plan.answer else {}
            answer = error_response(int(str(plan.answer["status"])), str(plan.answer["type"]), str(plan.answer["message"]), headers=headers)
            self._finish(answer, path, query, None, "sequence")
            return
        retry_after = app.rate_limiter.admit()
        if retry_after is not None:
            answer = error_response(429, "rate_limit_exceeded", f"Too many requests; retry after {retry_after} seconds.",
                                    headers={"Retry-After": str(retry_after)})
            self._finish(answer, path, query, None, "rate_limit")
            return
        response, principal = app.api.handle(method, path, query, self.headers, body)
        if plan.hang == "after":
            app.faults.hang(method, path, plan.hang_seconds)
        if plan.drop == "after":
            self._drop(path, query, principal)
            return
        self._finish(response, path, query, principal, None)

    def _record(self, path: str, query: str, status: int, principal: Principal | None, fault: str | None) -> None:
        """Add the request to the log and, unless quiet, print one line (never a header or body)."""
        auth = principal.kind if principal else "none"
        application_id = principal.application_id if principal else None
        entry = self.server.app.log.add(self.command, path, query, status, auth, application_id, fault)
        if not self.server.quiet:
            suffix = f" fault={fault}" if fault else ""
            sys.stderr.write(f"{entry['time']} {self.command} {path} {status or 'dropped'} auth={auth}{suffix}\n")

    def _finish(self, response: Response, path: str, query: str, principal: Principal | None, fault: str | None) -> None:
        self._record(path, query, response.status, principal, fault)
        self._send(response)

    def _drop(self, path: str, query: str, principal: Principal | None) -> None:
        """Close the connection without answering (logged with status 0)."""
        self._record(path, query, 0, principal, "drop")
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # the client may already be gone; closing is all that matters

    def _send(self, response: Response) -> None:
        payload = response.encoded_body()
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.body is not None:
            self.send_header("Content-Type", "application/json")
        if response.status != 204:
            self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)


class EmulatorServer(ThreadingHTTPServer):
    """A threading HTTP server bound to one EmulatorApp."""

    daemon_threads = True
    allow_reuse_address = True
    # Many Ansible forks may connect at once.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: EmulatorApp, quiet: bool) -> None:
        self.app = app
        self.quiet = quiet
        super().__init__(address, RequestHandler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup of the host, which can stall start-up."""
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that vanish or fail the TLS handshake; report anything else."""
        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class EmulatorServerV6(EmulatorServer):
    """The same server on an IPv6 loopback address."""

    address_family = socket.AF_INET6


def url_host(host: str) -> str:
    """The host as it appears in a URL (IPv6 literals in brackets)."""
    return f"[{host}]" if ":" in host else host


def create_server(app: EmulatorApp, host: str, port: int, tls: TlsFiles | None = None, quiet: bool = True) -> EmulatorServer:
    """Bind a server for ``app`` (port 0 picks a free port) and fill in ``app.url`` and ``app.ca_bundle``."""
    server_class = EmulatorServerV6 if ":" in host else EmulatorServer
    server = server_class((host, port), app, quiet)
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(tls.certificate, tls.private_key)
        # Handshakes happen lazily in each connection's thread (see RequestHandler.setup).
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        scheme = "https"
        app.ca_bundle = tls.ca_bundle
    app.url = f"{scheme}://{url_host(host)}:{server.server_address[1]}"
    return server


def serve_in_thread(server: EmulatorServer) -> threading.Thread:
    """Run ``server.serve_forever`` in a daemon thread and return the thread."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="izuma-emulator", daemon=True)
    thread.start()
    return thread


def startup_banner(app: EmulatorApp) -> list[str]:
    """The lines printed first on start: shell-friendly settings a client can source."""
    lines = [f"IZUMA_API_HOST={app.url}", f"IZUMA_API_KEY={app.admin_key}"]
    if app.ca_bundle:
        lines.append(f"IZUMA_CA_BUNDLE={app.ca_bundle}")
    return lines

# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Command line: ``python -m izuma_emulator [options]``.

On start it prints ``IZUMA_API_HOST=...``, ``IZUMA_API_KEY=...`` (and
``IZUMA_CA_BUNDLE=...`` with ``--tls``) as its first lines, so a shell or a test can
pick them up, then serves until SIGTERM or Ctrl-C and exits 0.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
from types import FrameType

from izuma_emulator.app import EmulatorApp, generate_admin_key
from izuma_emulator.certs import TlsFiles, generate_tls_files
from izuma_emulator.server import EmulatorServer, create_server, startup_banner
from izuma_emulator.settings import Settings


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(prog="python -m izuma_emulator",
                                     description="Local emulator of the Izuma Device Management IAM REST API (for tests).")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind: 127.0.0.1 (default), ::1 or localhost")
    parser.add_argument("--port", type=_non_negative, default=0, help="port to bind; 0 (default) picks a free one")
    parser.add_argument("--admin-key", help="bootstrap administrator access key (ak_...); default: a random one")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a freshly generated CA and server certificate")
    parser.add_argument("--tls-dir", help="directory for the generated ca.pem, server.pem and server-key.pem (default: a temporary one)")
    parser.add_argument("--ready-file", help="write {url, admin_key, ca_bundle, pid} as JSON here once listening")
    parser.add_argument("--max-applications", type=_non_negative, default=Settings.max_applications,
                        help="applications allowed in the account (default %(default)s)")
    parser.add_argument("--max-verification-keys", type=_non_negative, default=Settings.max_verification_keys,
                        help="verification keys allowed per application (default %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="do not print a line per API request on stderr")
    return parser


def write_ready_file(path: str, app: EmulatorApp) -> None:
    """Write the ready file atomically: a reader never sees it half written."""
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".ready-", dir=directory)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump({"url": app.url, "admin_key": app.admin_key, "ca_bundle": app.ca_bundle, "pid": os.getpid()}, stream)
    os.replace(temporary, path)


def _stop_on_sigterm(server: EmulatorServer) -> None:
    """Make SIGTERM stop ``serve_forever`` cleanly.

    ``shutdown()`` waits for the serve loop, which runs in this (the main) thread, so it
    must be called from another thread.
    """
    def handler(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, handler)


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until stopped; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not is_loopback(args.host):
        parser.error(f"--host {args.host} is not a loopback address; the emulator only listens on 127.0.0.1, ::1 or localhost")
    admin_key = args.admin_key or generate_admin_key()
    if not admin_key.startswith("ak_") or len(admin_key) < 8:
        parser.error("--admin-key must be an access key starting with ak_ (e.g. ak_ followed by 32 hex characters)")
    settings = Settings(max_applications=args.max_applications, max_verification_keys=args.max_verification_keys)
    app = EmulatorApp(admin_key, settings)

    temporary_tls_dir = None
    tls: TlsFiles | None = None
    if args.tls:
        if args.tls_dir is None:
            temporary_tls_dir = tempfile.mkdtemp(prefix="izuma-emulator-tls-")
        hosts = list(dict.fromkeys([args.host, "127.0.0.1", "::1", "localhost"]))
        tls = generate_tls_files(args.tls_dir or temporary_tls_dir, hosts)
    try:
        server = create_server(app, args.host, args.port, tls, quiet=args.quiet)
    except OSError as error:
        print(f"izuma_emulator: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    try:
        print("\n".join(startup_banner(app)), flush=True)
        if args.ready_file:
            write_ready_file(args.ready_file, app)
        # Printed after the ready file exists, so either signal means "ready".
        print(f"Izuma emulator listening on {app.url} (Ctrl-C to stop)", flush=True)
        _stop_on_sigterm(server)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if args.ready_file and os.path.exists(args.ready_file):
            os.remove(args.ready_file)  # a stale ready file would point at a dead server
        if temporary_tls_dir:
            shutil.rmtree(temporary_tls_dir, ignore_errors=True)
    print("Izuma emulator stopped.", flush=True)
    return 0

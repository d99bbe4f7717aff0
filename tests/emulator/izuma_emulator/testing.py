# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for test suites that need an emulator.

Two ways to run one, with the same interface:

* ``Emulator``: a subprocess (``python -m izuma_emulator``), as a context manager. Use it
  when the code under test runs in other processes (ansible-playbook and its forks).
* ``start_in_thread()``: a server in a thread of the test process, for fast unit tests.

Example::

    with Emulator(tls=True) as emulator:
        env = {**os.environ, **emulator.env()}
        subprocess.run(["ansible-playbook", "site.yml"], env=env, check=True)
        assert [entry["method"] for entry in emulator.writes()] == ["POST"]

Control calls use only the standard library and ignore proxy settings (the emulator is
always on loopback).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from izuma_emulator.app import EmulatorApp, generate_admin_key
from izuma_emulator.certs import generate_tls_files
from izuma_emulator.server import EmulatorServer, create_server, serve_in_thread
from izuma_emulator.settings import Settings

# The directory to put on PYTHONPATH so that ``python -m izuma_emulator`` finds the package.
EMULATOR_PYTHONPATH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ControlError(RuntimeError):
    """A control request failed."""


class EmulatorControl:
    """The control-interface helpers shared by the subprocess and in-thread emulators."""

    url = ""
    admin_key = ""
    ca_bundle: str | None = None

    def env(self) -> dict[str, str]:
        """Environment variables pointing a client at this emulator (IZUMA_API_HOST, IZUMA_API_KEY, IZUMA_CA_BUNDLE)."""
        env = {"IZUMA_API_HOST": self.url, "IZUMA_API_KEY": self.admin_key}
        if self.ca_bundle:
            env["IZUMA_CA_BUNDLE"] = self.ca_bundle
        return env

    def _call(self, method: str, name: str, payload: object = None) -> Any:
        """Send one control request and return its decoded JSON answer."""
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        request = urllib.request.Request(f"{self.url}/_emulator/{name}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
        if self.ca_bundle:
            handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=self.ca_bundle)))
        try:
            with urllib.request.build_opener(*handlers).open(request, timeout=30) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as error:
            raise ControlError(f"{method} /_emulator/{name} failed: {error.code} {error.read().decode('utf-8', 'replace')}") from None

    def reset(self) -> None:
        """Empty the account and clear the log, faults, clock shift, rate limit and settings changes."""
        self._call("POST", "reset")

    def state(self) -> dict[str, object]:
        """The account as JSON: applications with their keys (never access-key secrets)."""
        return self._call("GET", "state")

    def log(self) -> list[dict[str, object]]:
        """Every API request so far (method, path, query, status, auth, application_id, fault)."""
        return self._call("GET", "log")

    def clear_log(self) -> None:
        """Forget the logged requests."""
        self._call("DELETE", "log")

    def writes(self) -> list[dict[str, object]]:
        """The logged requests that were not GETs."""
        return [entry for entry in self.log() if entry["method"] != "GET"]

    def faults(self, rules: dict[str, object] | Iterable[dict[str, object]]) -> list[dict[str, object]]:
        """Add fault rules (one object or a list); return all active rules."""
        payload = rules if isinstance(rules, dict) else list(rules)
        return self._call("POST", "faults", payload)

    def clear_faults(self) -> None:
        """Remove every fault rule and release hung requests."""
        self._call("DELETE", "faults")

    def status(self) -> dict[str, object]:
        """Whether a request is hanging, the clock and the rate limit."""
        return self._call("GET", "status")

    def wait_until_hanging(self, timeout: float = 10.0) -> dict[str, object]:
        """Poll status until a request hangs; return the hung request's method and path."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status()
            if status["hanging"]:
                return status["hung_request"]
            time.sleep(0.02)
        raise ControlError(f"no request hung within {timeout} seconds")

    def release(self) -> int:
        """Let hung requests continue; return how many there were."""
        return int(self._call("POST", "release")["released"])

    def clock(self, offset_seconds: float) -> dict[str, object]:
        """Shift the emulator's now by ``offset_seconds`` from real time."""
        return self._call("POST", "clock", {"offset_seconds": offset_seconds})

    def rate_limit(self, requests: int | None = None, per_seconds: float | None = None) -> None:
        """Allow ``requests`` per ``per_seconds`` (429 beyond); no arguments disable the limit."""
        self._call("POST", "rate_limit", {"requests": requests, "per_seconds": per_seconds} if requests else {})

    def settings(self, **changes: object) -> dict[str, object]:
        """Change settings (e.g. ``max_applications=4``); return all settings."""
        return self._call("POST", "settings", changes)


class Emulator(EmulatorControl):
    """The emulator as a subprocess; a context manager that starts and stops it."""

    def __init__(self, tls: bool = False, admin_key: str | None = None, extra_args: Iterable[str] = (),
                 startup_timeout: float = 30.0, python: str = sys.executable) -> None:
        self.tls = tls
        self.requested_admin_key = admin_key
        self.extra_args = list(extra_args)
        self.startup_timeout = startup_timeout
        self.python = python
        self.process: subprocess.Popen[bytes] | None = None
        self.workdir: str | None = None

    @property
    def output_path(self) -> str:
        """The file collecting the subprocess's stdout and stderr."""
        return os.path.join(self.workdir or "", "output.log")

    def output(self) -> str:
        """What the subprocess printed so far (for diagnosing a failed test)."""
        with open(self.output_path, encoding="utf-8", errors="replace") as stream:
            return stream.read()

    def command(self, ready_file: str) -> list[str]:
        """The command line used to start the subprocess."""
        command = [self.python, "-m", "izuma_emulator", "--port", "0", "--quiet", "--ready-file", ready_file]
        if self.requested_admin_key:
            command += ["--admin-key", self.requested_admin_key]
        if self.tls:
            command += ["--tls", "--tls-dir", os.path.join(self.workdir or "", "tls")]
        return command + self.extra_args

    def start(self) -> Emulator:
        """Start the subprocess and wait until it is listening."""
        self.workdir = tempfile.mkdtemp(prefix="izuma-emulator-")
        ready_file = os.path.join(self.workdir, "ready.json")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [EMULATOR_PYTHONPATH, env.get("PYTHONPATH")]))
        # Output goes to a file: a pipe nobody reads would eventually block the server.
        with open(self.output_path, "wb") as output:
            self.process = subprocess.Popen(self.command(ready_file), env=env, stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_timeout
        while not os.path.exists(ready_file):
            if self.process.poll() is not None:
                output_text = self.output()
                self.stop()
                raise ControlError(f"the emulator exited with status {self.process.returncode}:\n{output_text}")
            if time.monotonic() > deadline:
                self.stop()
                raise ControlError(f"the emulator was not ready within {self.startup_timeout} seconds")
            time.sleep(0.02)
        with open(ready_file, encoding="utf-8") as stream:
            ready = json.load(stream)
        self.url, self.admin_key, self.ca_bundle = ready["url"], ready["admin_key"], ready["ca_bundle"]
        return self

    def stop(self) -> None:
        """Stop the subprocess (SIGTERM, then SIGKILL after 10 s) and remove its files."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None) -> None:
        self.stop()


class ThreadedEmulator(EmulatorControl):
    """An emulator serving from a thread of the current process; ``stop()`` shuts it down."""

    def __init__(self, app: EmulatorApp, server: EmulatorServer, tls_dir: str | None) -> None:
        self.app = app
        self.server = server
        self.tls_dir = tls_dir
        self.url, self.admin_key, self.ca_bundle = app.url, app.admin_key, app.ca_bundle
        self.thread = serve_in_thread(server)

    def stop(self) -> None:
        """Stop serving, release hung requests and remove generated TLS files."""
        self.app.faults.clear()
        self.server.shutdown()
        self.server.server_close()
        if self.tls_dir:
            shutil.rmtree(self.tls_dir, ignore_errors=True)

    def __enter__(self) -> ThreadedEmulator:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None) -> None:
        self.stop()


def start_in_thread(tls: bool = False, admin_key: str | None = None, settings: Settings | None = None) -> ThreadedEmulator:
    """Start an emulator on a free loopback port in a daemon thread of this process."""
    app = EmulatorApp(admin_key or generate_admin_key(), settings)
    tls_dir = tempfile.mkdtemp(prefix="izuma-emulator-tls-") if tls else None
    tls_files = generate_tls_files(tls_dir, ["127.0.0.1", "localhost", "::1"]) if tls_dir else None
    server = create_server(app, "127.0.0.1", 0, tls_files, quiet=True)
    return ThreadedEmulator(app, server, tls_dir)


# -- killing a client -------------------------------------------------------------------------------------------


class RunningEmulator(EmulatorControl):
    """An emulator someone else started (an integration target's setup_emulator), reached by its URL."""

    def __init__(self, url: str, admin_key: str = "", ca_bundle: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.admin_key = admin_key
        self.ca_bundle = ca_bundle


def run_to_end(command: list[str], log_path: str, label: str) -> str:
    """Run ``command`` to its end with its output in ``log_path``; the output (AssertionError naming ``label`` and the
    end of the output when it fails)."""
    with open(log_path, "wb") as output:
        code = subprocess.call(command, stdout=output, stderr=subprocess.STDOUT)
    with open(log_path, encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    if code != 0:
        raise AssertionError("%s failed (exit %d):\n%s" % (label, code, text[-3000:]))
    return text


def application_state(emulator: EmulatorControl, application_id: str) -> dict[str, Any]:
    """One application from the emulator's state, with its keys (never counted by fault rules or the request log)."""
    state: Any = emulator.state()
    for application in state["applications"]:
        if application["id"] == application_id:
            return application
    raise AssertionError("application %s is gone" % application_id)


def wait_until_held(emulator: EmulatorControl, process: "subprocess.Popen[Any]",
                    held: Callable[[dict[str, Any]], bool] | None = None, timeout: float = 60) -> bool:
    """Poll until the emulator holds a request (one that ``held`` accepts, if given): True; False when ``process``
    ends first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(held is None or held(hung) for hung in emulator.status()["hung_requests"]):
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def kill_at_request(emulator: EmulatorControl, command: list[str], rules: list[dict[str, Any]], log_path: str,
                    held: Callable[[dict[str, Any]], bool] | None = None, check: Callable[[], None] | None = None,
                    settled: Callable[[], bool] | None = None, too_late: str = "the command ended before the request was held",
                    timeout: float = 60) -> None:
    """Kill ``command`` while the emulator holds one of its requests, as a crash at that request would.

    Adds the fault ``rules`` (one of them a ``hang``), starts ``command`` in a session of its own with its output in
    ``log_path``, waits until the emulator holds a request that ``held`` accepts (AssertionError ``too_late`` if the
    command ends or ``timeout`` passes first), kills the command and everything it started (``kill_tree``) and calls
    ``check()``: the state right after the kill. Whatever happens, the command is then gone, the held request is let
    go (carried out or refused, as the rules say), ``settled()`` is polled for up to 30 seconds (for example until
    the request log shows the request) and the faults are cleared.
    """
    emulator.faults(rules)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,  # pylint: disable=consider-using-with
                                   start_new_session=True)
    try:
        if not wait_until_held(emulator, process, held, timeout):
            raise AssertionError(too_late)
        kill_tree(process)
        if check is not None:
            check()
    finally:
        if process.poll() is None:
            kill_tree(process)
        emulator.release()
        deadline = time.monotonic() + 30
        while settled is not None and not settled() and time.monotonic() < deadline:
            time.sleep(0.02)
        emulator.clear_faults()


def process_tree(root: int) -> list[int]:
    """The process and all its descendants (from /proc), so that each can be killed."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry, encoding="ascii", errors="replace") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
            children.setdefault(parent, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def kill_tree(process: "subprocess.Popen[Any]") -> None:
    """SIGKILL a client (for example ansible-playbook) and everything it started, at once, and wait until all are gone.

    Tests use it to stand for a run killed while the emulator holds one of its requests.

    Killing the playbook's process group is not enough: each Ansible worker calls setsid(), so the worker and the
    module it runs are in process groups of their own and would go on without the playbook.
    """
    pids = process_tree(process.pid)
    groups = []
    for pid in pids:
        try:
            groups.append(os.getpgid(pid))
        except OSError:
            continue
    for group in dict.fromkeys(groups):
        if group == os.getpgrp():
            continue  # never this driver's own group
        try:
            os.killpg(group, signal.SIGKILL)
        except OSError:
            pass  # already gone
    process.wait()
    # Nothing the playbook started may still run when the held request is let go.
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            raise RuntimeError("processes of the killed command are still running: %s" % [pid for pid in pids if alive(pid)])
        time.sleep(0.01)


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (a zombie runs no code)."""
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False

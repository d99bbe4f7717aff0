# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kill an access-key creation and rotation at every API request and show that nothing is lost.

For each request N of the task (counted first, on a run that is not disturbed), of a creation and of a rotation, and
each variant:

* ``before``: the emulator holds request N before carrying it out, the playbook is killed (SIGKILL, its whole process
  tree), and request N is then answered with an error: it never happened;
* ``after``: the emulator carries out request N and holds the answer, the playbook is killed: the change happened, the
  client never heard of it (after a POST, the new key's secret is gone with the answer).

Invariants:

* right after the kill, and once the held request is finished: at most one ACTIVE access key of the application has
  no secret on disk (the one whose create answer was lost), and every secret on disk that belongs to a key still works;
* after running the task again: every ACTIVE access key of the application has its secret on disk (``svc.key`` or
  ``svc.key.previous``, mode 0600), and the secret authenticates as the application; there is one key, ``svc``;
* a third run reports no change and makes no write request.

Only the standard library is used, so the check is independent of the collection: a secret is matched to its key by
the key's public part (the API's ``key`` outside the create answer), which the secret starts with.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional

sys.path.insert(0, os.path.join(os.environ["ANSIBLE_COLLECTIONS_PATH"].split(":")[0], "ansible_collections", "izuma",
                                "device_management", "tests", "emulator"))
from izuma_emulator.testing import (  # noqa: E402  pylint: disable=wrong-import-position
    RunningEmulator, application_state, kill_at_request, run_to_end)

HOST = os.environ["IZUMA_API_HOST"].rstrip("/")
ADMIN_KEY = os.environ["IZUMA_API_KEY"]
EMULATOR = RunningEmulator(HOST, ADMIN_KEY)
HERE = os.path.dirname(os.path.abspath(__file__))
INVENTORY = sys.argv[1]
WORK = os.path.join(sys.argv[2], "access-key-crash")
DAY = 86400


class Failure(AssertionError):
    """An invariant does not hold."""


def call(method: str, path: str, body: Optional[Any] = None, key: Optional[str] = None) -> Any:
    """One request to the emulator (control interface, or the API with an access key); the decoded JSON answer."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(HOST + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", "Bearer " + key)
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
    return json.loads(text) if text else None


def works(secret: str, application_id: str) -> bool:
    """True when the secret authenticates as the application (any application may read itself)."""
    try:
        return call("GET", "/v3/applications/" + application_id, key=secret)["id"] == application_id
    except urllib.error.HTTPError:
        return False


def shorten(path: str, application_id: str) -> str:
    return re.sub("[0-9a-f]{32}$", "{key_id}", path.replace(application_id, "{application_id}"))


class Case:
    """One application, one key directory, one kill point (``rotate``: the key exists and is two days old)."""

    def __init__(self, label: str, rotate: bool, nth: int = 0, when: str = "") -> None:
        self.label, self.rotate, self.nth, self.when = label, rotate, nth, when
        self.directory = os.path.join(WORK, label)
        self.application_id = ""
        self.runs = 0
        self.mark = 0

    def setup(self) -> None:
        """The application; for a rotation, its key created by the task while the clock is set back (the caller's)."""
        os.makedirs(self.directory)
        self.application_id = call("POST", "/v3/applications", {"name": "akcrash-" + self.label}, key=ADMIN_KEY)["id"]
        if self.rotate:
            self.playbook()
        self.mark = self.last_seq()

    @staticmethod
    def last_seq() -> int:
        return max([entry["seq"] for entry in call("GET", "/_emulator/log")] + [0])

    def command(self) -> List[str]:
        return ["ansible-playbook", "-i", INVENTORY, os.path.join(HERE, "access_key.yml"),
                "-e", "application_id=" + self.application_id, "-e", "key_dir=" + self.directory]

    def playbook(self) -> str:
        """Run the task to its end; its output (raises when it fails)."""
        self.runs += 1
        log = os.path.join(self.directory, "run-%d.log" % self.runs)
        return run_to_end(self.command(), log, "%s: run %d" % (self.label, self.runs))

    def keys(self) -> List[Dict[str, Any]]:
        """The application's access keys, from the emulator's state (never in the request log)."""
        return application_state(EMULATOR, self.application_id)["access_keys"]

    def secrets(self, where: str) -> List[str]:
        """The secrets on disk (checking that each file is 0600)."""
        found = []
        for name in ("svc.key", "svc.key.previous"):
            path = os.path.join(self.directory, name)
            if os.path.exists(path):
                mode = stat.S_IMODE(os.stat(path).st_mode)
                if mode != 0o600:
                    raise Failure("%s, %s: %s has mode %o, not 600" % (self.label, where, name, mode))
                with open(path, encoding="ascii") as handle:
                    found.append(handle.read().strip())
        return found

    def without_secret(self, where: str) -> List[str]:
        """The names of the ACTIVE keys whose secret is not on disk; every secret on disk of a key that exists works."""
        keys, secrets = self.keys(), self.secrets(where)
        for secret in secrets:
            if any(secret.startswith(item["key"]) for item in keys) and not works(secret, self.application_id):
                raise Failure("%s, %s: a secret on disk no longer authenticates" % (self.label, where))
        return [item["name"] for item in keys
                if item["status"] == "ACTIVE" and not any(secret.startswith(item["key"]) for secret in secrets)]

    def check_after_kill(self, moment: str) -> None:
        lost = self.without_secret(moment)
        if len(lost) > 1:
            raise Failure("%s, %s: %d ACTIVE keys without their secret on disk: %s" % (self.label, moment, len(lost), lost))

    def check_converged(self, moment: str) -> None:
        lost = self.without_secret(moment)
        if lost:
            raise Failure("%s, %s: ACTIVE keys without their secret on disk: %s" % (self.label, moment, lost))
        names = sorted(item["name"] for item in self.keys())
        if names != ["svc"]:
            raise Failure("%s, %s: keys %s, expected svc alone" % (self.label, moment, names))

    def requests(self, since: int = 0) -> List[Dict[str, Any]]:
        """The task's requests about this application's access keys since the setup (the checks' own requests are not)."""
        since = since or self.mark
        prefix = "/v3/applications/%s/access-keys" % self.application_id
        return [entry for entry in call("GET", "/_emulator/log") if entry["path"].startswith(prefix) and entry["seq"] > since]

    def kill(self) -> None:
        """Run the task until the emulator holds request N, kill it, let the request finish or fail."""
        pattern = "^/v3/applications/%s/access-keys" % self.application_id
        rules: List[Dict[str, Any]] = [{"path": pattern, "hang": self.when, "nth": self.nth, "max_seconds": 60}]
        if self.when == "before":
            rules.append({"path": pattern, "sequence": [{"pass": True}] * (self.nth - 1) + [{"status": 503, "message": "killed"}]})
        kill_at_request(EMULATOR, self.command(), rules, os.path.join(self.directory, "killed.log"),
                        held=lambda hung: self.application_id in hung["path"],
                        check=lambda: self.check_after_kill("right after the kill"),
                        settled=lambda: len(self.requests()) >= self.nth,
                        too_late="%s: the playbook ended (or took too long) before request %d" % (self.label, self.nth))
        self.check_after_kill("once the held request %s" % ("failed" if self.when == "before" else "was answered"))

    def converge(self) -> List[Dict[str, Any]]:
        """The run that finishes the job and the run that finds nothing to do; the requests of the first."""
        first = self.playbook()
        mark = self.last_seq()
        self.check_converged("after running the task again")
        third = self.playbook()
        self.check_converged("after a third run")
        if "changed=0" not in third or "failed=0" not in third or "changed=1" not in first:
            raise Failure("%s: the run after the repair changed something (or the repair did not):\n%s" % (self.label, third[-2000:]))
        writes = [entry for entry in self.requests(since=mark) if entry["method"] != "GET"]
        if writes:
            raise Failure("%s: the third run wrote %s" % (self.label, writes))
        return [entry for entry in self.requests() if entry["seq"] <= mark]


def measure(rotate: bool) -> List[str]:
    """The requests of an undisturbed creation or rotation."""
    case = Case("measure-" + ("rotate" if rotate else "create"), rotate)
    call("POST", "/_emulator/clock", {"offset_seconds": -2 * DAY if rotate else 0})
    try:
        case.setup()
    finally:
        call("POST", "/_emulator/clock", {"offset_seconds": 0})
    requests = [entry["method"] + " " + shorten(entry["path"], case.application_id) for entry in case.converge()]
    print("An undisturbed %s makes %d requests: %s" % ("rotation" if rotate else "creation", len(requests), ", ".join(requests)))
    return requests


def main() -> int:
    started = time.monotonic()
    call("POST", "/_emulator/reset", {})
    os.makedirs(WORK, exist_ok=True)
    plans = {False: measure(False), True: measure(True)}
    if [request.split()[0] for request in plans[False]] != ["GET", "POST"] or \
            [request.split()[0] for request in plans[True]] != ["GET", "PUT", "POST", "DELETE"]:
        raise Failure("unexpected requests: %s" % plans)
    cases = [Case("%s-%d-%s" % ("rotate" if rotate else "create", nth, when), rotate, nth, when)
             for rotate in (False, True) for nth in range(1, len(plans[rotate]) + 1) for when in ("before", "after")]
    for rotate in (False, True):
        call("POST", "/_emulator/clock", {"offset_seconds": -2 * DAY if rotate else 0})
        try:
            with ThreadPoolExecutor(max_workers=2) as pool:
                list(pool.map(Case.setup, [case for case in cases if case.rotate == rotate]))
        finally:
            call("POST", "/_emulator/clock", {"offset_seconds": 0})
    # Kills one at a time (the emulator's release lets every held request go); the runs after them overlap.
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = []
        for case in cases:
            case.kill()
            futures.append(pool.submit(case.converge))
        for case, future in zip(cases, futures):
            future.result()
            killed = case.requests()[case.nth - 1]
            print("%-16s killed at %s %s (%s); converged, every ACTIVE key's secret on disk" % (
                case.label, killed["method"], shorten(killed["path"], case.application_id),
                "never carried out" if case.when == "before" else "carried out, answer lost"))
    print("%d kill points, each converged, in %.0f seconds" % (len(cases), time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())

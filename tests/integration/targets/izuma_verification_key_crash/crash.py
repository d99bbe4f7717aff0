# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kill a key rotation at every API request and show that running it again converges.

For each request N of a rotation (counted first, on a rotation that is not disturbed) and each variant:

* ``before``: the emulator holds request N before carrying it out, the playbook is killed (SIGKILL, whole process
  group), and request N is then answered with an error: it never happened, as if the kill came before it was sent;
* ``after``: the emulator carries out request N and holds the answer, the playbook is killed: the change happened,
  the client never heard of it.

Right after the kill, again once the held request is finished, after running the same playbook again, and after a
third run, the invariants must hold:

* at most two keys in the application, and each public key uploaded once (no duplicate upload);
* every uploaded key's private key is on disk (``signing.key``, ``.key.previous`` or ``.key.next``);
* the application has at least one usable key (ACTIVE, and valid by the emulator's clock);
* after the second run the rotation is complete (``signing`` is the key at ``signing.key``, ``signing-previous``
  the one at ``signing.key.previous``, no ``.next`` left, private keys 0600), and the third run reports no change.

Only the standard library and the openssl command line are used, so the check is independent of the collection.
Kill phases run one at a time (the emulator's release lets every held request go); the runs after them overlap.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional

# The emulator's test helpers (kill_at_request) live in the collection's tests/emulator.
sys.path.insert(0, os.path.join(os.environ["ANSIBLE_COLLECTIONS_PATH"].split(":")[0], "ansible_collections", "izuma",
                                "device_management", "tests", "emulator"))
from izuma_emulator.testing import (  # noqa: E402  pylint: disable=wrong-import-position
    RunningEmulator, application_state, kill_at_request, run_to_end)

HOST = os.environ["IZUMA_API_HOST"].rstrip("/")
ADMIN_KEY = os.environ["IZUMA_API_KEY"]
EMULATOR = RunningEmulator(HOST, ADMIN_KEY)
HERE = os.path.dirname(os.path.abspath(__file__))
INVENTORY = sys.argv[1]
WORK = os.path.join(sys.argv[2], "crash")
GRACE_AGO = 7200  # the current key was uploaded two hours ago: its previous generation may be retired to make room
KILL_LOCK = threading.Lock()


class Failure(AssertionError):
    """An invariant does not hold."""


def call(method: str, path: str, body: Optional[Any] = None, admin: bool = False) -> Any:
    """One request to the emulator (control interface, or the API as administrator); the decoded JSON answer."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(HOST + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if admin:
        request.add_header("Authorization", "Bearer " + ADMIN_KEY)
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
    return json.loads(text) if text else None


def openssl(*args: str, data: Optional[bytes] = None) -> str:
    """Run openssl; its standard output as text."""
    return subprocess.run(["openssl", *args], input=data, capture_output=True, check=True).stdout.decode()


def public_key_of_certificate(pem: str) -> str:
    return openssl("x509", "-noout", "-pubkey", data=pem.encode())


def public_key_of_file(path: str) -> str:
    return openssl("pkey", "-in", path, "-pubout")


def make_key(directory: str, name: str, days: int) -> str:
    """A new EC P-256 key at directory/name.key (0600) and its certificate at directory/name.crt; the certificate."""
    key, cert = os.path.join(directory, name + ".key"), os.path.join(directory, name + ".crt")
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key)
    os.chmod(key, 0o600)
    openssl("req", "-x509", "-new", "-key", key, "-subj", "/CN=" + name, "-days", str(days), "-out", cert)
    with open(cert, encoding="ascii") as handle:
        return handle.read()


def shorten(path: str, application_id: str) -> str:
    """A request path with the ids replaced by their meaning."""
    return re.sub("[0-9a-f]{32}$", "{key_id}", path.replace(application_id, "{application_id}"))


class Case:
    """One application, one key directory, one kill point."""

    def __init__(self, label: str, nth: int = 0, when: str = "") -> None:
        self.label, self.nth, self.when = label, nth, when
        self.directory = os.path.join(WORK, label)
        self.application_id = ""
        self.path_pattern = ""
        self.runs = 0
        self.mark = 0
        self.rotated_out = ""

    def setup(self) -> None:
        """Two generations, signing-previous (30 days) and signing (5 days, so a rotation is due), uploaded while the
        emulator's clock is set back (the caller's job), so that the grace period of the current key has passed."""
        os.makedirs(self.directory)
        self.application_id = call("POST", "/v3/applications", {"name": "crash-" + self.label}, admin=True)["id"]
        self.path_pattern = "^/v3/applications/%s/verification-keys" % self.application_id
        first = make_key(self.directory, "gen1", 30)
        second = make_key(self.directory, "gen2", 5)
        os.rename(os.path.join(self.directory, "gen1.key"), self.key_file(".previous"))
        os.rename(os.path.join(self.directory, "gen1.crt"), os.path.join(self.directory, "signing.crt.previous"))
        os.rename(os.path.join(self.directory, "gen2.key"), self.key_file(""))
        os.rename(os.path.join(self.directory, "gen2.crt"), os.path.join(self.directory, "signing.crt"))
        self.rotated_out = public_key_of_file(self.key_file(""))
        for name, certificate in (("signing-previous", first), ("signing", second)):
            call("POST", "/v3/applications/%s/verification-keys" % self.application_id,
                 {"name": name, "certificate": certificate}, admin=True)
        self.mark = max([entry["seq"] for entry in call("GET", "/_emulator/log")] + [0])

    def key_file(self, suffix: str) -> str:
        return os.path.join(self.directory, "signing.key" + suffix)

    def command(self) -> List[str]:
        return ["ansible-playbook", "-i", INVENTORY, os.path.join(HERE, "rotate.yml"),
                "-e", "application_id=" + self.application_id, "-e", "key_dir=" + self.directory]

    def playbook(self) -> str:
        """Run the rotation playbook to its end; its output (raises when it fails)."""
        self.runs += 1
        log = os.path.join(self.directory, "run-%d.log" % self.runs)
        return run_to_end(self.command(), log, "%s: run %d" % (self.label, self.runs))

    def uploaded(self) -> List[Dict[str, Any]]:
        """The application's keys, from the emulator's state (never counted by fault rules or the request log)."""
        return application_state(EMULATOR, self.application_id)["verification_keys"]

    def requests(self, since: int = 0) -> List[Dict[str, Any]]:
        """The API requests about this application's keys since the setup (or since log entry ``since``)."""
        since = since or self.mark
        return [entry for entry in call("GET", "/_emulator/log") if self.application_id in entry["path"] and entry["seq"] > since]

    def check(self, moment: str, complete: bool = False) -> None:
        """The invariants; with ``complete``, also that the rotation is finished."""
        keys = self.uploaded()
        where = "%s, %s" % (self.label, moment)
        local = {}
        for suffix in ("", ".next", ".previous"):
            if os.path.exists(self.key_file(suffix)):
                local[public_key_of_file(self.key_file(suffix))] = suffix
                mode = stat.S_IMODE(os.stat(self.key_file(suffix)).st_mode)
                if mode != 0o600:
                    raise Failure("%s: signing.key%s has mode %o, not 600" % (where, suffix, mode))
        public = [public_key_of_certificate(item["certificate"]) for item in keys]
        names = sorted(item["name"] for item in keys)
        if len(keys) > 2:
            raise Failure("%s: %d keys uploaded: %s" % (where, len(keys), names))
        if len(set(public)) != len(public):
            raise Failure("%s: a public key is uploaded twice: %s" % (where, names))
        for item, key in zip(keys, public):
            if key not in local:
                raise Failure("%s: the private key of uploaded key '%s' is not on disk" % (where, item["name"]))
        if not any(item["status"] == "ACTIVE" and item["valid"] for item in keys):
            raise Failure("%s: no usable key left: %s" % (where, names))
        if complete:
            by_name = dict(zip((item["name"] for item in keys), public))
            if names != ["signing", "signing-previous"]:
                raise Failure("%s: keys %s, expected signing and signing-previous" % (where, names))
            if local.get(by_name["signing"]) != "" or local.get(by_name["signing-previous"]) != ".previous":
                raise Failure("%s: signing is not the key at signing.key, or signing-previous not the one at .previous" % where)
            if by_name["signing-previous"] != self.rotated_out:
                raise Failure("%s: the rotation did not happen (signing-previous is not the key that was current)" % where)
            if ".next" in local.values():
                raise Failure("%s: signing.key.next is left behind" % where)

    def kill(self) -> None:
        """Run the playbook until the emulator holds request N, kill it, let the request finish or fail."""
        with KILL_LOCK:
            rules: List[Dict[str, Any]] = [{"path": self.path_pattern, "hang": "before" if self.when == "before" else "after",
                                            "nth": self.nth, "max_seconds": 60}]
            if self.when == "before":
                # The held request is then refused: it is never carried out.
                rules.append({"path": self.path_pattern,
                              "sequence": [{"pass": True}] * (self.nth - 1) + [{"status": 503, "message": "killed"}]})
            kill_at_request(EMULATOR, self.command(), rules, os.path.join(self.directory, "killed.log"),
                            held=lambda hung: self.application_id in hung["path"],
                            check=lambda: self.check("right after the kill"),
                            settled=lambda: len(self.requests()) >= self.nth,
                            too_late="%s: the playbook ended (or took too long) before request %d" % (self.label, self.nth))
        self.check("once the held request %s" % ("failed" if self.when == "before" else "was answered"))

    def converge(self) -> List[Dict[str, Any]]:
        """The run that finishes the rotation and the run that finds nothing to do; the requests of the first."""
        first = self.playbook()
        mark = max([entry["seq"] for entry in call("GET", "/_emulator/log")] + [0])
        self.check("after running the playbook again", complete=True)
        third = self.playbook()
        self.check("after a third run", complete=True)
        if "changed=0" not in third or "failed=0" not in third or "changed=1" not in first:
            raise Failure("%s: the run after the rotation changed something (or the rotation did not):\n%s"
                          % (self.label, third[-2000:]))
        writes = [entry for entry in self.requests(since=mark) if entry["method"] != "GET"]
        if writes:
            raise Failure("%s: the third run wrote %s" % (self.label, writes))
        return [entry for entry in self.requests() if entry["seq"] <= mark]

    def run(self) -> str:
        """Kill the rotation at request N, then converge."""
        self.kill()
        killed = self.requests()[self.nth - 1]
        self.converge()
        outcome = "never carried out" if self.when == "before" else "carried out, answer lost"
        return "%-8s killed at %s %s (%s); converged" % (self.label, killed["method"], shorten(killed["path"], self.application_id), outcome)


def main() -> int:
    started = time.monotonic()
    call("POST", "/_emulator/reset", {})
    os.makedirs(WORK, exist_ok=True)
    measure = Case("measure")
    cases = [measure] + [Case("%d-%s" % (nth, when), nth, when) for nth in range(1, 5) for when in ("before", "after")]
    call("POST", "/_emulator/clock", {"offset_seconds": -GRACE_AGO})
    try:
        for case in cases:
            case.setup()
    finally:
        call("POST", "/_emulator/clock", {"offset_seconds": 0})

    # A rotation left alone: count its requests (the kill points).
    requests = measure.converge()
    print("A rotation makes %d requests: %s" % (len(requests), ", ".join(
        entry["method"] + " " + shorten(entry["path"], measure.application_id) for entry in requests)))
    if [entry["method"] for entry in requests] != ["GET", "DELETE", "PUT", "POST"]:
        raise Failure("unexpected requests for a rotation that retires the previous generation: %s" % requests)

    with ThreadPoolExecutor(max_workers=3) as pool:
        for line in pool.map(Case.run, cases[1:]):
            print(line)
    print("%d kill points, each converged, in %.0f seconds" % (len(cases) - 1, time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())

# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the same verification-key task N times at once, and one key name from two key paths at once.

Scenarios (N = 3 ``ansible-playbook`` processes started together, RSA 4096 keys so that key generation is slow):

* ``create``: no key yet;
* ``rotate``: a key uploaded 40 days ago by the emulator's clock, task ``rotate_after_days: 30``;
* ``rotate-skip``: a key just uploaded, task ``rotate: true`` with ``on_rotation_under_way: skip`` (job slices);
* ``renew``: a key whose certificate expires in 30 days, task ``renew_before: 40`` (``valid_days: 60``);
* ``two-controllers``: the same key name, two key directories (two controllers cannot share a lock).

After each: at most two keys uploaded, each public key once, every uploaded key's private key on disk (mode 0600),
a JWT signed with ``signing.key`` is accepted by the API, and one more run of the same task changes and writes
nothing. For the two controllers: one run fails with a message that names the way out, nothing is lost, and the
next run of the winner converges.

Only the standard library, PyJWT and the openssl command line are used, so the check is independent of the
collection.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional, Tuple

import jwt

HOST = os.environ["IZUMA_API_HOST"].rstrip("/")
ADMIN_KEY = os.environ["IZUMA_API_KEY"]
HERE = os.path.dirname(os.path.abspath(__file__))
INVENTORY = sys.argv[1]
WORK = os.path.join(sys.argv[2], "concurrent")
RUNS = 3
DAY = 86400


class Failure(AssertionError):
    """An invariant does not hold."""


def call(method: str, path: str, body: Optional[Any] = None, admin: bool = False,
         headers: Optional[Dict[str, str]] = None) -> Any:
    """One request to the emulator (control interface, or the API); the decoded JSON answer."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(HOST + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if admin:
        request.add_header("Authorization", "Bearer " + ADMIN_KEY)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    with urllib.request.urlopen(request, timeout=60) as response:
        text = response.read()
    return json.loads(text) if text else None


def openssl(*args: str, data: Optional[bytes] = None) -> str:
    """Run openssl; its standard output as text."""
    return subprocess.run(["openssl", *args], input=data, capture_output=True, check=True).stdout.decode()


def log_mark() -> int:
    return max([entry["seq"] for entry in call("GET", "/_emulator/log")] + [0])


class Scenario:
    """One application, one key directory (two for two controllers), one task run N times at once."""

    def __init__(self, label: str, vk: Dict[str, Any], setup: Optional[Dict[str, Any]] = None, clock: int = 0) -> None:
        self.label, self.vk, self.setup_vk, self.clock = label, vk, setup, clock
        self.directory = os.path.join(WORK, label)
        self.application_id = call("POST", "/v3/applications", {"name": "concurrent-" + label}, admin=True)["id"]
        self.runs = 0

    def playbook(self, vk: Dict[str, Any], directory: str, key_name: str = "signing") -> Tuple[int, str, Dict[str, Any]]:
        """Run the task once; exit code, output and the module's result (empty when the task failed)."""
        os.makedirs(directory, exist_ok=True)
        self.runs += 1
        number = self.runs
        result_file = os.path.join(directory, "result-%d.json" % number)
        extra = {"application_id": self.application_id, "key_dir": directory, "key_name": key_name, "vk": vk,
                 "result_file": result_file}
        command = ["ansible-playbook", "-i", INVENTORY, os.path.join(HERE, "task.yml"), "-e", json.dumps(extra)]
        process = subprocess.run(command, capture_output=True, text=True, check=False)
        output = process.stdout + process.stderr
        with open(os.path.join(directory, "run-%d.log" % number), "w", encoding="utf-8") as handle:
            handle.write(output)
        result = {}
        if os.path.exists(result_file):
            with open(result_file, encoding="utf-8") as handle:
                result = json.load(handle)
            os.unlink(result_file)
        return process.returncode, output, result

    def at_once(self, vk: Dict[str, Any], directories: List[str]) -> List[Tuple[int, str, Dict[str, Any]]]:
        with ThreadPoolExecutor(max_workers=len(directories)) as pool:
            return list(pool.map(lambda directory: self.playbook(vk, directory), directories))

    def uploaded(self) -> List[Dict[str, Any]]:
        for application in call("GET", "/_emulator/state")["applications"]:
            if application["id"] == self.application_id:
                return application["verification_keys"]
        raise Failure("%s: the application is gone" % self.label)

    def writes(self, since: int) -> List[str]:
        return ["%s %s" % (entry["method"], entry["path"]) for entry in call("GET", "/_emulator/log")
                if entry["seq"] > since and entry["method"] != "GET" and self.application_id in entry["path"]]

    def check(self, moment: str, directories: List[str]) -> None:
        """At most two keys, each public key once, each with its private key on disk (0600), one usable."""
        where = "%s, %s" % (self.label, moment)
        local = {}
        for directory in directories:
            for name in sorted(os.listdir(directory)):
                path = os.path.join(directory, name)
                if name.startswith("signing.key") and not name.endswith(".lock"):
                    local[openssl("pkey", "-in", path, "-pubout")] = path
                    if stat.S_IMODE(os.stat(path).st_mode) != 0o600:
                        raise Failure("%s: %s is not mode 0600" % (where, path))
                if name.endswith(".lock") or name.endswith(".tmp"):
                    raise Failure("%s: %s is left behind" % (where, path))
        keys = self.uploaded()
        public = [openssl("x509", "-noout", "-pubkey", data=item["certificate"].encode()) for item in keys]
        if len(keys) > 2 or len(set(public)) != len(public):
            raise Failure("%s: keys %s" % (where, [item["name"] for item in keys]))
        for item, key in zip(keys, public):
            if key not in local:
                raise Failure("%s: the private key of uploaded key '%s' is nowhere on disk" % (where, item["name"]))
        if not any(item["status"] == "ACTIVE" and item["valid"] for item in keys):
            raise Failure("%s: no usable key" % where)

    def token_accepted(self, directory: str) -> None:
        """A JWT signed with the key file is accepted by the API."""
        with open(os.path.join(directory, "signing.key"), "rb") as handle:
            key = handle.read()
        token = jwt.encode({"exp": int(time.time()) + 600}, key, algorithm="RS256")
        try:
            call("GET", "/v3/applications/" + self.application_id,
                 headers={"Authorization": "Bearer " + token, "X-Application-ID": self.application_id})
        except urllib.error.HTTPError as exc:
            raise Failure("%s: a token signed with %s/signing.key is refused: %s %s" % (self.label, directory, exc.code, exc.read()))

    def converged(self, directory: str) -> None:
        """One more run of the same task: no change, no write."""
        mark = log_mark()
        code, output, result = self.playbook(self.vk, directory)
        if code != 0 or result.get("changed") is not False or result.get("plan") != []:
            raise Failure("%s: the run after the concurrent ones did not converge:\n%s" % (self.label, output[-3000:]))
        if self.writes(mark):
            raise Failure("%s: the run after the concurrent ones wrote %s" % (self.label, self.writes(mark)))

    def run(self) -> str:
        if self.setup_vk is not None:
            call("POST", "/_emulator/clock", {"offset_seconds": -self.clock})
            try:
                code, output, _result = self.playbook(self.setup_vk, self.directory)
            finally:
                call("POST", "/_emulator/clock", {"offset_seconds": 0})
            if code != 0:
                raise Failure("%s: the setup run failed:\n%s" % (self.label, output[-3000:]))
        mark = log_mark()
        outcomes = self.at_once(self.vk, [self.directory] * RUNS)
        failed = [output for code, output, _result in outcomes if code != 0]
        if failed:
            raise Failure("%s: %d of %d runs failed:\n%s" % (self.label, len(failed), RUNS, failed[0][-3000:]))
        changed = sorted(bool(result.get("changed")) for _code, _output, result in outcomes)
        if changed != [False] * (RUNS - 1) + [True]:
            raise Failure("%s: %s runs changed something, expected exactly one" % (self.label, changed.count(True)))
        writes = self.writes(mark)
        self.check("after %d runs at once" % RUNS, [self.directory])
        self.token_accepted(self.directory)
        self.converged(self.directory)
        self.check("after the next run", [self.directory])
        return "%-15s %d runs at once: one changed (%s), the others waited and found nothing to do; next run converged" % (
            self.label, RUNS, ", ".join(re.sub("[0-9a-f]{32}", "{id}", write) for write in writes))


def two_controllers() -> str:
    """The same key name from two key directories at once: one wins, the other fails clearly; nothing is lost."""
    scenario = Scenario("two-controllers", vk={})
    directories = [os.path.join(scenario.directory, side) for side in ("a", "b")]
    outcomes = scenario.at_once({}, directories)
    codes = [code for code, _output, _result in outcomes]
    if sorted(codes) != [0, 2]:
        raise Failure("two controllers: exit codes %s, expected one success and one failure" % codes)
    winner = directories[codes.index(0)]
    loser_output = outcomes[codes.index(2)][1]
    expected = ("already has a verification key named 'signing'", "Another run uploaded a key named 'signing'")
    if not any(words in loser_output for words in expected):
        raise Failure("two controllers: the failure does not say what happened:\n%s" % loser_output[-3000:])
    scenario.check("after both", directories)
    scenario.token_accepted(winner)
    scenario.converged(winner)
    return "two-controllers one run uploaded, the other failed naming the key; nothing lost; the winner's next run converged"


def main() -> int:
    started = time.monotonic()
    call("POST", "/_emulator/reset", {})
    os.makedirs(WORK, exist_ok=True)
    scenarios = [
        Scenario("create", vk={}),
        Scenario("rotate", vk={"rotate_after_days": 30}, setup={}, clock=40 * DAY),
        Scenario("rotate-skip", vk={"rotate": True, "on_rotation_under_way": "skip"}, setup={}),
        Scenario("renew", vk={"valid_days": 60, "renew_before": 40}, setup={"valid_days": 30, "renew_before": 5}),
    ]
    for scenario in scenarios:
        print(scenario.run())
    print(two_controllers())
    print("all scenarios held in %.0f seconds" % (time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())

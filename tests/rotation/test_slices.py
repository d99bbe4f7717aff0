# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rotation split the way AWX job slicing splits a job: three ansible-playbook processes at once, each with a
``--limit`` partition of one inventory, against one emulator and one key directory.

While the three run, a poller checks, as often as it can, that every host holds a token the API accepts, that no
application has more than two keys, and that every uploaded key's private key is on disk. Afterwards:

* each application was rotated once (one upload), whichever slice did it;
* no slice retired the previous key: none could prove the hosts of the others, and the grace period (the token
  lifetime) has not passed;
* every host holds a token signed by the new key that the API accepts;
* a run over the whole inventory then proves every host and retires the previous keys early.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator, List

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography import x509

from fleet import Fleet, set_up_fleet

APPLICATIONS = {"slice-telemetry": ["slice-c%d" % index for index in range(1, 7)],
                "slice-gateway": ["slice-g%d" % index for index in range(1, 4)]}
HOSTS = sorted(host for hosts in APPLICATIONS.values() for host in hosts)
SLICES = [HOSTS[index::3] for index in range(3)]


@pytest.fixture(scope="module")
def fleet(emulator, tmp_path_factory) -> Iterator[Fleet]:
    """Two applications, nine hosts, set up once."""
    yield set_up_fleet(emulator, tmp_path_factory.mktemp("slices"), APPLICATIONS)


def private_key_fingerprints(key_dir: Path) -> List[bytes]:
    """The public keys (DER) of every private key file in the key directory (current, next, previous)."""
    found = []
    for path in key_dir.glob("*.key*"):
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), None)
        except (ValueError, OSError):
            continue  # being written
        found.append(key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    return found


class Poller(threading.Thread):
    """Checks the invariants until stopped; remembers every violation seen."""

    def __init__(self, fleet: Fleet) -> None:
        super().__init__(daemon=True)
        self.fleet = fleet
        self.stopped = threading.Event()
        self.violations: List[str] = []
        self.rounds = 0

    def run(self) -> None:
        while not self.stopped.is_set():
            for host in self.fleet.refused_hosts():
                self.violations.append("refused token: %s" % host)
            on_disk = private_key_fingerprints(self.fleet.key_dir)
            for name in APPLICATIONS:
                keys = self.fleet.keys(name)
                if len(keys) > 2:
                    self.violations.append("%s has %d keys" % (name, len(keys)))
                for item in keys:
                    public = x509.load_pem_x509_certificate(item["certificate"].encode("ascii")).public_key().public_bytes(
                        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
                    if public not in on_disk:
                        # A key may be uploaded a moment before its file is renamed: look again before calling it lost.
                        time.sleep(0.5)
                        if public not in private_key_fingerprints(self.fleet.key_dir):
                            self.violations.append("%s: key %s has no private key on disk" % (name, item["name"]))
            self.rounds += 1


def test_three_concurrent_slices_rotate_once_and_never_break_a_host(fleet: Fleet, tmp_path: Path) -> None:
    old = {name: {item["id"] for item in fleet.keys(name)} for name in APPLICATIONS}
    fleet.emulator.clear_log()
    poller = Poller(fleet)
    poller.start()
    logs = [tmp_path / ("slice-%d.log" % index) for index in range(3)]
    processes = []
    for hosts, log in zip(SLICES, logs):
        with open(log, "w", encoding="utf-8") as stream:
            processes.append(subprocess.Popen(fleet.command("jwt_rotation.yml", "-e", "jwt_rotation_force=true", "--limit", ",".join(hosts)),
                                              env=fleet.env(), stdout=stream, stderr=subprocess.STDOUT))
    try:
        statuses = [process.wait(timeout=600) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
        poller.stopped.set()
        poller.join(60)
    outputs = [log.read_text(encoding="utf-8") for log in logs]
    assert statuses == [0, 0, 0], "\n\n".join(output[-3000:] for output in outputs)
    assert poller.rounds > 0 and poller.violations == [], poller.violations[:20]

    log = fleet.emulator.log()
    for name in APPLICATIONS:
        application_id = fleet.application_id(name)
        uploads = [entry for entry in log if entry["method"] == "POST" and entry["path"] == "/v3/applications/%s/verification-keys" % application_id]
        assert len(uploads) == 1, "%s was rotated %d times" % (name, len(uploads))
        keys = fleet.keys(name)
        # The previous key stays: no slice saw every host, and the grace period has not passed.
        assert sorted(item["name"] for item in keys) == [name + "-signing", name + "-signing-previous"], keys
        current = next(item for item in keys if item["name"] == name + "-signing")
        assert current["id"] not in old[name]
        for host in APPLICATIONS[name]:
            token = fleet.token(host, name)
            assert fleet.signed_by(token, current), "%s holds a token not signed by the new key of %s" % (host, name)
    assert [entry for entry in log if entry["method"] == "DELETE"] == []
    assert fleet.refused_hosts() == []

    # A run over the whole inventory proves every host: the previous keys go now, before the grace period.
    status, output = fleet.run("jwt_rotation.yml")
    assert status == 0, output[-4000:]
    assert output.count("previous key retired (every host verified)") == 2, output[-3000:]
    assert all([item["name"] for item in fleet.keys(name)] == [name + "-signing"] for name in APPLICATIONS)
    assert fleet.refused_hosts() == []


def test_a_limited_run_does_not_retire_early(fleet: Fleet) -> None:
    """A rotation with --limit leaves the previous key for the hosts it did not reach, and says so."""
    status, output = fleet.run("jwt_rotation.yml", "-e", "jwt_rotation_force=true", "--limit", ",".join(SLICES[0]))
    assert status == 0, output[-4000:]
    assert "previous key kept until the grace period" in output and "not verified in this run" in output, output[-3000:]
    assert all(len(fleet.keys(name)) == 2 for name in APPLICATIONS)
    # Hosts outside the limit still hold tokens signed by the previous key, which the API still accepts.
    assert fleet.refused_hosts() == []
    status, output = fleet.run("jwt_rotation.yml")
    assert status == 0, output[-4000:]
    assert all(len(fleet.keys(name)) == 1 for name in APPLICATIONS) and fleet.refused_hosts() == []


def test_a_grace_period_shorter_than_the_token_lifetime_is_refused(fleet: Fleet) -> None:
    before = {name: fleet.keys(name) for name in APPLICATIONS}
    fleet.emulator.clear_log()
    status, output = fleet.run("jwt_rotation.yml", "-e", "jwt_rotation_grace_period=60")
    assert status != 0
    assert "grace_period 60 s is shorter than token_lifetime 3600 s" in output, output[-3000:]
    assert fleet.emulator.writes() == [] and {name: fleet.keys(name) for name in APPLICATIONS} == before

# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the jwt_rotation role costs per host, counted: module executions, per-host tasks, API requests.

The module_runs test callback (callback/module_runs.py) records every module an action plugin executes, every
low-level command run outside a module, and every task result, per host and task. Tasks of the controller phases
(run_once) run once per run, whatever the fleet size, and are counted apart from the per-host tasks.
"""

from __future__ import annotations

import collections
from typing import Dict, Iterator, List

import pytest

from fleet import Fleet, recap_changes, set_up_fleet

APPLICATIONS = {"count-telemetry": ["count-c1", "count-c2", "count-c3"], "count-gateway": ["count-g1", "count-g2"]}
HOSTS = [host for hosts in APPLICATIONS.values() for host in hosts]
# Module executions per host (each host belongs to one application): none where the token is right (izuma_jwt reads
# it through the connection), one where a token is written. The tasks that run per host (their names without the role
# prefix): Ansible's own validation of the role's arguments, the token task, and the reload handlers where a token
# changed.
CONVERGED_MODULE_RUNS = 0
REISSUE_MODULE_RUNS = 1
ROTATION_MODULE_RUNS = 1
PER_HOST_TASKS = {
    "Validating arguments against arg spec 'main' - Rotate the JWT credentials of a fleet without downtime",
    "Sign each token on the controller, deploy it where needed, and verify it with the API",
    "Reload the services that read the tokens",
    "Run the reload commands of the applications whose token changed",
}
# API requests of a converged run of the two applications: all of them lists.
CONVERGED_REQUESTS = 6


@pytest.fixture(scope="module")
def fleet(emulator, tmp_path_factory) -> Iterator[Fleet]:
    """Two applications, five hosts, set up once."""
    yield set_up_fleet(emulator, tmp_path_factory.mktemp("counts"), APPLICATIONS)


def per_host(records: List[Dict[str, object]], event: str) -> Dict[str, collections.Counter]:
    """Counter of task names per host, for the records of one event that are not run_once."""
    counts: Dict[str, collections.Counter] = {host: collections.Counter() for host in HOSTS}
    for record in records:
        if record["event"] == event and not record["run_once"]:
            counts[str(record["host"])][str(record["task"]).split(" : ", 1)[-1]] += 1
    return counts


def controller(records: List[Dict[str, object]]) -> collections.Counter:
    """Module executions of the run_once (controller) tasks, by task name."""
    return collections.Counter(str(record["task"]) for record in records if record["event"] == "module" and record["run_once"])


def api_requests(fleet: Fleet) -> List[str]:
    """The API requests logged since the last clear, as 'METHOD path'."""
    return ["%s %s" % (entry["method"], entry["path"]) for entry in fleet.emulator.log() if not str(entry["path"]).startswith("/_emulator")]


def test_converged_run(fleet: Fleet) -> None:
    """Nothing to do: no write, and the per-host cost is the token check alone."""
    fleet.emulator.clear_log()
    status, output, records = fleet.run_counted("jwt_rotation.yml")
    assert status == 0, output[-4000:]
    assert set(recap_changes(output).values()) == {0}
    modules = per_host(records, "module")
    tasks = per_host(records, "task")
    for host in HOSTS:
        assert sum(modules[host].values()) == CONVERGED_MODULE_RUNS, (host, modules[host])
        assert set(tasks[host]) <= PER_HOST_TASKS, (host, tasks[host])
    requests = api_requests(fleet)
    assert all(request.startswith("GET ") for request in requests), requests
    assert len(requests) == CONVERGED_REQUESTS, requests


def test_reissue(fleet: Fleet) -> None:
    """One host's token is gone: one write there, nothing elsewhere."""
    (fleet.workdir / "hosts" / "count-c2" / "count-telemetry.jwt").unlink()
    status, output, records = fleet.run_counted("jwt_rotation.yml")
    assert status == 0, output[-4000:]
    assert recap_changes(output)["count-c2"] == 1
    modules = per_host(records, "module")
    assert sum(modules["count-c2"].values()) == REISSUE_MODULE_RUNS, modules["count-c2"]
    for host in HOSTS:
        if host != "count-c2":
            assert sum(modules[host].values()) == CONVERGED_MODULE_RUNS, (host, modules[host])
    assert fleet.refused_hosts() == []


def test_rotation(fleet: Fleet) -> None:
    """A forced rotation: a bounded number of module executions per host per application, the rest on the controller."""
    fleet.emulator.clear_log()
    status, output, records = fleet.run_counted("jwt_rotation.yml", "-e", "jwt_rotation_force=true")
    assert status == 0, output[-4000:]
    assert output.count("previous key retired (every host verified)") == 2, output[-3000:]
    modules = per_host(records, "module")
    tasks = per_host(records, "task")
    for host in HOSTS:
        assert sum(modules[host].values()) == ROTATION_MODULE_RUNS, (host, modules[host])
        assert set(tasks[host]) <= PER_HOST_TASKS, (host, tasks[host])
    # The controller's share does not grow with the fleet: at most one module execution per application per task.
    assert all(count <= len(APPLICATIONS) for count in controller(records).values()), controller(records)
    # One verification request per host, made from the controller with the host's token (JWT authentication).
    verifications = [entry for entry in fleet.emulator.log() if entry["auth"] == "jwt" and entry["method"] == "GET"]
    assert len(verifications) == len(HOSTS), verifications
    assert fleet.refused_hosts() == []
    assert all(len(fleet.keys(name)) == 1 for name in APPLICATIONS)

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
import json
import os
import re
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from fleet import Fleet, recap_changes, set_up_fleet

APPLICATIONS = {"count-telemetry": ["count-c1", "count-c2", "count-c3"], "count-gateway": ["count-g1", "count-g2"]}
HOSTS = [host for hosts in APPLICATIONS.values() for host in hosts]
# Module executions per host (each host belongs to one application): none where the token is right (izuma_jwt reads
# it through the connection), and none where a token is written either (izuma_jwt writes it through the connection
# too: the fleet's hosts have a POSIX shell, a numeric mode and no symbolic link). The tasks that run per host (their names without the role
# prefix): Ansible's own validation of the role's arguments, the token task, and the reload handlers where a token
# changed.
CONVERGED_MODULE_RUNS = 0
REISSUE_MODULE_RUNS = 0
ROTATION_MODULE_RUNS = 0
# Low-level commands of the token task per host: the read, and the write where a token is written.
TOKEN_TASK = "Sign each token on the controller, deploy it where needed, and verify it with the API"
ROTATION_TOKEN_COMMANDS = 2
RELOAD_HANDLERS = {
    "Reload the services that read the tokens",
    "Run the reload commands of the applications whose token changed",
}
# Ansible's validation of the role's variables, one task per host through the role's main entry point; the
# collection's playbooks use tasks_from: fleet, which makes the same check once (a run_once task).
PER_HOST_VALIDATION = "Validating arguments against arg spec 'main' - Rotate the JWT credentials of a fleet without downtime"
VALIDATION_ONCE = "Check the role's variables against meta/argument_specs.yml, once for the play"
PER_HOST_TASKS = {
    PER_HOST_VALIDATION,
    "Sign each token on the controller, deploy it where needed, and verify it with the API",
    # The role's listener of the public topic: a meta task (no worker).
    "Note the new token (the topic for the play's own handlers)",
} | RELOAD_HANDLERS
# The tasks of phase 1 that a converged run does not need, in the files application.yml includes only where they
# have something to do (application_setup.yml, application_again.yml, application_record.yml): a converged run
# skips each file as one task and runs none of these.
INCLUDED_STEPS = {
    "Make sure the private key directory exists on the controller (mode 0700, the keys never leave it)",
    "Make sure each application exists, where its id is not known yet (or jwt_rotation_check_applications)",
    "Keep the key results for the steps that follow (the next run of the key module replaces them)",
    "Enforce each application's settings where its key changed, or find it by name where its id is gone",
    "Create the verification key of each application found again by name",
    "Remember each application's id for the next runs, where it is new or changed (no secret in it)",
    "Remember, for the later serial batches of this run, which applications were rotated",
}
# API requests of a converged run: one list of each application's keys, and nothing else (the role knows the ids).
CONVERGED_REQUESTS = len(APPLICATIONS)
KEY_LIST = re.compile(r"^GET /v3/applications/[0-9a-f]{32}/verification-keys(\?.*)?$")


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
        assert PER_HOST_VALIDATION not in tasks[host], (host, tasks[host])
    # The key task runs on the controller (delegate_to: localhost) as the controller's user: its core runs in the
    # controller process, so no module runs anywhere, the controller included.
    assert [record for record in records if record["event"] == "module"] == [], controller(records)
    once = [record for record in records if record["event"] == "task" and str(record["task"]).endswith(VALIDATION_ONCE)]
    assert len(once) == 1 and once[0]["run_once"], once
    started = {str(record["task"]).split(" : ", 1)[-1] for record in records if record["event"] in ("start", "task")}
    assert not started & INCLUDED_STEPS, started & INCLUDED_STEPS
    requests = api_requests(fleet)
    assert all(request.startswith("GET ") for request in requests), requests
    assert len(requests) == CONVERGED_REQUESTS, requests
    assert all(KEY_LIST.match(request) for request in requests), requests


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
        # No application reloads anything: the reload handlers run nowhere (not even to skip).
        assert not set(tasks[host]) & RELOAD_HANDLERS, (host, tasks[host])
    # The controller's share does not grow with the fleet: at most one module execution per application per task.
    assert all(count <= len(APPLICATIONS) for count in controller(records).values()), controller(records)
    # The API modules (the key task) run their cores in the controller process, not as modules.
    assert not [record for record in records if record["event"] == "module" and "izuma_verification_key" in str(record["module"])]
    # One verification request per host, made from the controller with the host's token (JWT authentication).
    verifications = [entry for entry in fleet.emulator.log() if entry["auth"] == "jwt" and entry["method"] == "GET"]
    assert len(verifications) == len(HOSTS), verifications
    assert fleet.refused_hosts() == []
    assert all(len(fleet.keys(name)) == 1 for name in APPLICATIONS)
    # The rotated applications are remembered for later serial batches: application_record.yml is included and runs.
    done = {str(record["task"]).split(" : ", 1)[-1] for record in records if record["event"] == "task" and record["status"] != "skipped"}
    assert "Remember, for the later serial batches of this run, which applications were rotated" in done, sorted(done)


def id_file(fleet: Fleet, name: str) -> Path:
    """Where the role remembers an application's id."""
    return fleet.key_dir / (name + ".application.json")


def test_a_deleted_application_is_found_again_by_name(fleet: Fleet) -> None:
    """The remembered id is gone (the application was deleted): the key list answers 404, and the same run creates the
    application again by name, with a new key and new tokens, and remembers the new id; the next run is converged."""
    old_id = fleet.application_id("count-gateway")
    fleet.delete_application("count-gateway")
    status, output = fleet.run("jwt_rotation.yml")
    assert status == 0, output[-4000:]
    assert "Traceback" not in output
    new_id = fleet.application_id("count-gateway")
    assert new_id != old_id
    assert json.loads(id_file(fleet, "count-gateway").read_text(encoding="utf-8"))["id"] == new_id
    assert len(fleet.keys("count-gateway")) == 1
    assert fleet.refused_hosts() == []
    fleet.emulator.clear_log()
    status, output = fleet.run("jwt_rotation.yml")
    assert status == 0, output[-4000:]
    assert set(recap_changes(output).values()) == {0}
    assert len(api_requests(fleet)) == CONVERGED_REQUESTS, api_requests(fleet)


def test_check_applications_looks_each_application_up(fleet: Fleet) -> None:
    """jwt_rotation_check_applications: every application is looked up by name and its groups checked; nothing changes."""
    fleet.emulator.clear_log()
    status, output = fleet.run("jwt_rotation.yml", "-e", "jwt_rotation_check_applications=true")
    assert status == 0, output[-4000:]
    assert set(recap_changes(output).values()) == {0}
    requests = api_requests(fleet)
    assert requests.count("GET /v3/applications") == len(APPLICATIONS), requests
    assert sum(1 for request in requests if KEY_LIST.match(request)) == len(APPLICATIONS), requests
    assert all(request.startswith("GET ") for request in requests), requests


def with_ids(fleet: Fleet, tmp_path: Path, ids: Dict[str, str]) -> str:
    """An extra-vars file: the fleet's applications, each with the id given."""
    group_vars = json.loads((fleet.inventory / "group_vars" / "all.json").read_text(encoding="utf-8"))
    applications = [dict(app, id=ids[app["name"]]) for app in group_vars["jwt_rotation_applications"]]
    path = tmp_path / "ids.json"
    path.write_text(json.dumps({"jwt_rotation_applications": applications}), encoding="utf-8")
    return "@" + str(path)


def test_given_ids_need_no_lookup_and_a_wrong_one_is_refused(fleet: Fleet, tmp_path: Path) -> None:
    """Applications given with their id: no lookup and no id file even when none is remembered; an id that does not
    exist fails with a message naming it, and the role does not create an application for it."""
    for name in APPLICATIONS:
        id_file(fleet, name).unlink()
    ids = {name: fleet.application_id(name) for name in APPLICATIONS}
    fleet.emulator.clear_log()
    status, output = fleet.run("jwt_rotation.yml", "-e", with_ids(fleet, tmp_path, ids))
    assert status == 0, output[-4000:]
    assert set(recap_changes(output).values()) == {0}
    assert len(api_requests(fleet)) == CONVERGED_REQUESTS, api_requests(fleet)
    assert not any(id_file(fleet, name).exists() for name in APPLICATIONS)
    wrong = dict(ids, **{"count-gateway": "0" * 32})
    fleet.emulator.clear_log()
    status, output = fleet.run("jwt_rotation.yml", "-e", with_ids(fleet, tmp_path, wrong))
    assert status != 0
    assert "There is no application with application_id " + "0" * 32 in output, output[-4000:]
    assert "Traceback" not in output
    assert [entry for entry in fleet.emulator.log() if entry["method"] != "GET"] == []
    # Without the ids the role finds the applications by name again and remembers them.
    status, output = fleet.run("jwt_rotation.yml")
    assert status == 0, output[-4000:]
    assert all(json.loads(id_file(fleet, name).read_text(encoding="utf-8"))["id"] == ids[name] for name in APPLICATIONS)


def handler_hosts(output: str, handler: str) -> List[str]:
    """The hosts that reported a result for a handler, from the default callback's output."""
    hosts, inside = [], False
    for line in output.splitlines():
        if line.startswith(("RUNNING HANDLER", "TASK", "PLAY")):
            inside = line.startswith("RUNNING HANDLER") and handler in line
        elif inside and line.split(":", 1)[0] in ("ok", "changed", "skipping", "failed"):
            hosts.append(line.split("[", 1)[1].split("]", 1)[0])
    return sorted(set(hosts))


def test_reload_handlers_run_only_where_an_application_reloads(fleet: Fleet, tmp_path: Path) -> None:
    """count-telemetry has a reload_command; the play hooks its own handler to the public topic. A rotation runs the
    command on the telemetry hosts, the play's handler on every host, and no reload handler on the gateway hosts."""
    group_vars = json.loads((fleet.inventory / "group_vars" / "all.json").read_text(encoding="utf-8"))
    applications = [dict(app, reload_command=["touch", "{{ jwt_rotation_token_dir }}/reloaded"]) if app["name"] == "count-telemetry"
                    else app for app in group_vars["jwt_rotation_applications"]]
    extra = tmp_path / "reload.json"
    extra.write_text(json.dumps({"jwt_rotation_applications": applications, "jwt_rotation_force": True}), encoding="utf-8")
    playbook = tmp_path / "hooked.yml"
    playbook.write_text(json.dumps([{
        "hosts": "all", "gather_facts": False, "roles": [{"role": "izuma.device_management.jwt_rotation"}],
        "handlers": [{"name": "Hooked by the play", "listen": "jwt_rotation token deployed",
                      "ansible.builtin.file": {"path": "{{ jwt_rotation_token_dir }}/hooked", "state": "touch", "mode": "0600"}}],
    }]), encoding="utf-8")
    status, output = fleet.run_playbook_file(str(playbook), "-e", "@" + str(extra))
    assert status == 0, output[-4000:]
    hosts = fleet.workdir / "hosts"
    assert sorted(host for host in HOSTS if (hosts / host / "reloaded").exists()) == sorted(APPLICATIONS["count-telemetry"])
    assert all((hosts / host / "hooked").exists() for host in HOSTS)
    assert handler_hosts(output, "Run the reload commands") == sorted(APPLICATIONS["count-telemetry"]), output[-4000:]
    assert handler_hosts(output, "Reload the services") == sorted(APPLICATIONS["count-telemetry"]), output[-4000:]
    assert fleet.refused_hosts() == []


def test_bad_role_input_is_refused_before_anything_is_done(fleet: Fleet) -> None:
    """The check made once (tasks_from: fleet) refuses a bad variable with Ansible's message naming it, before any
    request."""
    fleet.emulator.clear_log()
    status, output = fleet.run("jwt_rotation.yml", "-e", "jwt_rotation_token_lifetime=soon")
    assert status != 0
    assert "jwt_rotation_token_lifetime" in output and "Validation of arguments failed" in output, output[-3000:]
    assert "Traceback" not in output
    assert api_requests(fleet) == []


def test_a_rotation_writes_every_token_through_the_connection(fleet: Fleet) -> None:
    """A forced rotation: per host, the token task is two commands (read, write) and no module; each token is the new
    key's, mode 0600, with no temporary or lock file left beside it."""
    status, output, records = fleet.run_counted("jwt_rotation.yml", "-e", "jwt_rotation_force=true")
    assert status == 0, output[-4000:]
    modules = per_host(records, "module")
    commands = per_host(records, "command")
    for host in HOSTS:
        assert sum(modules[host].values()) == ROTATION_MODULE_RUNS == 0, (host, modules[host])
        assert commands[host][TOKEN_TASK] == ROTATION_TOKEN_COMMANDS, (host, commands[host])
    for application, hosts in APPLICATIONS.items():
        for host in hosts:
            directory = fleet.workdir / "hosts" / host
            assert (directory / (application + ".jwt")).stat().st_mode & 0o777 == 0o600
            assert not [name for name in os.listdir(str(directory)) if name.startswith(".") or name.endswith(".lock")], host
    assert fleet.refused_hosts() == []

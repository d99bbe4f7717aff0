# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The izuma_jwt action plugin writing through the connection: the read and the write run in a real /bin/sh here (as
a local connection runs them, the token on standard input), the module (where it still runs) in this process.

The same tasks run on the module path (a connection whose shell is not POSIX) give the same results.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import typing as t
from unittest.mock import MagicMock

import pytest

from ansible.parsing.dataloader import DataLoader

from ansible_collections.izuma.device_management.plugins.action import izuma_jwt as action_plugin
from ansible_collections.izuma.device_management.tests.unit.plugins.jwt_support import private_key, run_module, write_key


class Host:
    """Runs the action plugin for one host in ``directory``; ``shell`` says whether its connection has a POSIX shell."""

    def __init__(self, directory: t.Any, shell: bool) -> None:
        directory.mkdir()
        self.directory = directory
        self.shell = shell
        self.dest = str(directory / "host.jwt")
        self.modules = []  # type: t.List[str]
        self.commands = []  # type: t.List[t.Optional[bytes]]

    def run(self, check_mode: bool = False, diff: bool = False, **args: t.Any) -> t.Dict[str, t.Any]:
        args.setdefault("dest", self.dest)
        task = MagicMock()
        task.args = args
        task.check_mode = check_mode
        task.diff = diff
        task.async_val = 0
        task.action = "izuma.device_management.izuma_jwt"
        connection = MagicMock()
        connection._shell.tmpdir = None
        connection.become = None
        if self.shell:
            connection._shell.SHELL_FAMILY = "sh"
        loader = DataLoader()
        loader.set_basedir(str(self.directory))
        action = action_plugin.ActionModule(task, connection, MagicMock(), loader, None, None)

        def execute(module_name: str, module_args: t.Dict[str, t.Any], task_vars: t.Any) -> t.Dict[str, t.Any]:
            self.modules.append(module_args["_operation"])
            return run_module(module_args, check_mode=check_mode, diff=diff)

        def low_level(cmd: str, sudoable: bool = True, in_data: t.Optional[bytes] = None, encoding_errors: str = "strict",
                      **_other: t.Any) -> t.Dict[str, t.Any]:
            assert in_data is None or in_data.decode() not in cmd
            self.commands.append(in_data)
            done = subprocess.run(["/bin/sh", "-c", cmd], input=in_data or b"", stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
            return {"rc": done.returncode, "stdout": done.stdout.decode("utf-8", encoding_errors), "stderr": done.stderr.decode()}

        action._execute_module = execute
        action._low_level_execute_command = low_level
        action._remove_tmp_path = lambda path: None
        return action.run(task_vars={})


@pytest.fixture
def key_path(tmp_path: t.Any) -> str:
    return write_key(tmp_path / "signing.key", private_key("P-256"))


def comparable(result: t.Dict[str, t.Any], host: Host) -> t.Dict[str, t.Any]:
    """A result without what differs between two runs (times, the path), and without warnings: the module run in this
    process gives its warnings to Ansible's display rather than in its answer (compared apart)."""
    drop = ("claims", "issued_at", "expires_at", "seconds_left", "module_runs", "diff", "warnings")
    return {name: re.sub(r"another [0-9]+ seconds", "another N seconds", str(value).replace(host.dest, "DEST"))
            for name, value in result.items() if name not in drop}


def test_a_new_token_costs_no_module_and_reports_as_the_module_does(tmp_path: t.Any, key_path: str) -> None:
    shell, module = Host(tmp_path / "shell", True), Host(tmp_path / "module", False)
    results = {}
    for host in (shell, module):
        first = host.run(private_key_path=key_path, subject="h", mode="0644")
        forced = host.run(private_key_path=key_path, subject="h", mode="0644", force=True, diff=True)
        results[host.shell] = (first, forced)
        assert stat.S_IMODE(os.stat(host.dest).st_mode) == 0o644
    assert shell.modules == [] and module.modules == ["inspect", "write", "inspect", "write"]
    # Two commands per run: the read, and the write with the token on its standard input.
    assert [data is not None for data in shell.commands] == [False, True, False, True]
    for index in range(2):
        assert comparable(results[True][index], shell) == comparable(results[False][index], module)
        assert results[True][index]["module_runs"] == 0 and results[False][index]["module_runs"] == 2
    assert results[True][0]["warnings"] == ["mode 0644 of %s lets every user of the host use the token in it: use mode 0600, "
                                            "or 0640 with a group" % shell.dest]
    with open(shell.dest) as handle:
        written = handle.read().strip()
    assert results[True][1]["diff"]["after"]["mode"] == "0644" and written not in str(results[True])
    assert sorted(os.listdir(str(shell.directory))) == ["host.jwt"]


def test_check_mode_writes_nothing(tmp_path: t.Any, key_path: str) -> None:
    host = Host(tmp_path / "host", True)
    result = host.run(check_mode=True, private_key_path=key_path, subject="h")
    assert result["changed"] is True and not os.path.exists(host.dest)
    assert host.modules == [] and host.commands == [None]


def test_what_the_shell_cannot_do_goes_to_the_module(tmp_path: t.Any, key_path: str) -> None:
    """A missing directory to create (directory_mode) and unsafe_writes take the module path."""
    host = Host(tmp_path / "host", True)
    result = host.run(private_key_path=key_path, subject="h", dest=str(host.directory / "new" / "host.jwt"), directory_mode="0750")
    assert result["changed"] is True and host.modules == ["write"]
    assert stat.S_IMODE(os.stat(str(host.directory / "new")).st_mode) == 0o750
    host.modules.clear()
    host.run(private_key_path=key_path, subject="h", force=True, unsafe_writes=True)
    assert host.modules == ["write"]

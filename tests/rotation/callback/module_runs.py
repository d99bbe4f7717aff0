# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A test callback: counts module executions, low-level commands and task results, per host and per task.

Not shipped in plugins/: the rotation tests enable it (ANSIBLE_CALLBACK_PLUGINS=<this directory>,
ANSIBLE_CALLBACKS_ENABLED=module_runs) and read the JSON lines it appends to the file named by
IZUMA_MODULE_RUNS_LOG:

* ``{"event": "module", "host": ..., "task": ..., "module": ..., "run_once": ...}`` for each module an action plugin
  executes on a host (``ActionBase._execute_module``, which every action plugin uses to run a module);
* ``{"event": "command", ...}`` for each low-level command run outside a module execution (``_low_level_execute_command``,
  what an action plugin uses to read a file through the connection);
* ``{"event": "task", "host": ..., "task": ..., "status": ok|changed|failed|skipped|unreachable, "run_once": ...}`` for
  each task result the strategy receives (a skipped task still costs a worker process per host);
* ``{"event": "start", "task": ...}`` when a task (or handler) starts.

Every record has its ``time`` (seconds since the epoch), so the time spent in each task can be read off too.

Action plugins run in forked worker processes, so the counting wrapper is installed on ActionBase when this callback
loads, before the first worker forks; each line is one O_APPEND write, so workers never interleave inside a line.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: module_runs
type: aggregate
short_description: Count module executions per host and task (rotation tests only)
description:
  - Appends one JSON line per module execution, low-level command and task result to E(IZUMA_MODULE_RUNS_LOG).
requirements:
  - E(IZUMA_MODULE_RUNS_LOG) names the log file.
"""

import json
import os
import time
import typing as t

from ansible.plugins.action import ActionBase
from ansible.plugins.callback import CallbackBase

_STATE = {"in_module": False, "installed": False}


def _write(record: t.Dict[str, t.Any]) -> None:
    path = os.environ.get("IZUMA_MODULE_RUNS_LOG")
    if not path:
        return
    record.setdefault("time", time.time())
    line = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(descriptor, line)
    finally:
        os.close(descriptor)


def _describe(action: ActionBase, task_vars: t.Optional[t.Dict[str, t.Any]]) -> t.Dict[str, t.Any]:
    task = action._task  # pylint: disable=protected-access
    host = (task_vars or {}).get("inventory_hostname")
    if host is None:
        host = getattr(action._play_context, "remote_addr", None)  # pylint: disable=protected-access
    return {"host": host, "task": task.get_name(), "action": task.action, "run_once": bool(task.run_once),
            "delegate_to": task.delegate_to, "pid": os.getpid()}


def _install() -> None:
    """Wrap ActionBase._execute_module and _low_level_execute_command with counters (once per process)."""
    if _STATE["installed"]:
        return
    _STATE["installed"] = True
    execute_module = ActionBase._execute_module  # pylint: disable=protected-access
    low_level = ActionBase._low_level_execute_command  # pylint: disable=protected-access

    def counted_execute_module(self: ActionBase, module_name: t.Optional[str] = None, module_args: t.Any = None,
                               tmp: t.Any = None, task_vars: t.Optional[t.Dict[str, t.Any]] = None, *args: t.Any,
                               **kwargs: t.Any) -> t.Any:
        record = _describe(self, task_vars)
        record.update(event="module", module=module_name or self._task.action)  # pylint: disable=protected-access
        _write(record)
        _STATE["in_module"] = True
        try:
            return execute_module(self, module_name, module_args, tmp, task_vars, *args, **kwargs)
        finally:
            _STATE["in_module"] = False

    def counted_low_level(self: ActionBase, *args: t.Any, **kwargs: t.Any) -> t.Any:
        if not _STATE["in_module"]:
            record = _describe(self, getattr(self, "_izuma_task_vars", None))
            record["event"] = "command"
            _write(record)
        return low_level(self, *args, **kwargs)

    ActionBase._execute_module = counted_execute_module  # type: ignore[method-assign]  # pylint: disable=protected-access
    ActionBase._low_level_execute_command = counted_low_level  # type: ignore[method-assign]  # pylint: disable=protected-access
    run = ActionBase.run

    def remembered_run(self: ActionBase, tmp: t.Any = None, task_vars: t.Optional[t.Dict[str, t.Any]] = None) -> t.Any:
        # Low-level commands get no task_vars: remember them for the host name.
        self._izuma_task_vars = task_vars  # pylint: disable=attribute-defined-outside-init
        return run(self, tmp, task_vars)

    ActionBase.run = remembered_run  # type: ignore[method-assign]


class CallbackModule(CallbackBase):
    """Counts module executions, low-level commands and task results."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "module_runs"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        _install()

    def _task_result(self, result: t.Any, status: str) -> None:
        task = result._task  # pylint: disable=protected-access
        _write({"event": "task", "host": result._host.get_name(), "task": task.get_name(),  # pylint: disable=protected-access
                "action": task.action, "status": status, "run_once": bool(task.run_once)})

    def v2_playbook_on_task_start(self, task: t.Any, is_conditional: bool) -> None:
        """A task starts (for the time spent in each task)."""
        _write({"event": "start", "host": None, "task": task.get_name(), "action": task.action, "run_once": bool(task.run_once)})

    def v2_playbook_on_handler_task_start(self, task: t.Any) -> None:
        """A handler starts."""
        self.v2_playbook_on_task_start(task, False)

    def v2_runner_on_ok(self, result: t.Any) -> None:
        """A task result: ok or changed."""
        self._task_result(result, "changed" if result._result.get("changed") else "ok")  # pylint: disable=protected-access

    def v2_runner_on_failed(self, result: t.Any, ignore_errors: bool = False) -> None:
        """A failed task."""
        self._task_result(result, "failed")

    def v2_runner_on_skipped(self, result: t.Any) -> None:
        """A skipped task."""
        self._task_result(result, "skipped")

    def v2_runner_on_unreachable(self, result: t.Any) -> None:
        """An unreachable host."""
        self._task_result(result, "unreachable")

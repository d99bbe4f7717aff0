# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""The action plugin of the API modules: the core in the controller process where the module would run there,
the module everywhere else (plugin_utils ``_in_controller`` decides and runs)."""

from __future__ import annotations

import sys
import typing as t

from ansible import constants as C
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.utils.vars import merge_hash

from ansible_collections.izuma.device_management.plugins.module_utils._tasks import TaskDefinition
from ansible_collections.izuma.device_management.plugins.plugin_utils import _in_controller as in_controller

display = Display()


class TaskAction(ActionBase):
    """Run ``TASK`` (a module_utils ``_tasks`` definition) in the controller process where it can, else its module."""

    TASK: TaskDefinition
    MODULE: str
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp: t.Any = None, task_vars: t.Optional[t.Dict[str, t.Any]] = None) -> t.Dict[str, t.Any]:
        """Run the task for one host."""
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        module_name = self._task.resolved_action or self.MODULE
        reason = self._static_reason(task_vars)
        if reason is None:
            variables: t.Dict[str, t.Any] = {}
            self._compute_environment_string(variables)
            with in_controller.environment(variables):
                validated = in_controller.validate(self.TASK, self._task.args, module_name)
                reason = self._params_reason(validated)
                if reason is None:
                    display.vvv("%s: the core runs in the controller process" % module_name, host=self._play_context.remote_addr)
                    return merge_hash(result, in_controller.run_in_controller(
                        self.TASK, validated, bool(self._task.check_mode), bool(self._task.diff), self._inject_invocation(task_vars)))
        display.vvv("%s: the module runs (%s)" % (module_name, reason), host=self._play_context.remote_addr)
        return merge_hash(result, self._run_module(module_name, task_vars))

    def _run_module(self, module_name: str, task_vars: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
        """What ansible.builtin.normal does: the module, async where asked, then the temporary directory removed."""
        wrap_async = bool(self._task.async_val) and not getattr(self._connection, "has_native_async", False)
        answer = self._execute_module(module_name=module_name, module_args=self._task.args, task_vars=task_vars, wrap_async=wrap_async)
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return answer

    def _static_reason(self, task_vars: t.Dict[str, t.Any]) -> t.Optional[str]:
        """Why the module must run, from the connection, become, async and the host's Python; None if it need not."""
        host_vars = task_vars
        if self._task.delegate_to:
            host_vars = (task_vars.get("ansible_delegated_vars") or {}).get(self._task.delegate_to) or {}
        interpreter = C.config.get_config_value("INTERPRETER_PYTHON", variables=host_vars)
        if isinstance(interpreter, str) and "{" in interpreter:
            interpreter = self._templar.template(interpreter)
        become = bool(self._play_context.become) or getattr(self._connection, "become", None) is not None
        return in_controller.module_path_reason(getattr(self._connection, "transport", None), become, interpreter, sys.executable,
                                                async_seconds=int(self._task.async_val or 0))

    def _params_reason(self, validated: in_controller.Validated) -> t.Optional[str]:
        """Why the module must run, from the validated options: a library the core needs for them is missing."""
        if validated.error is not None:
            return None
        return in_controller.module_path_reason("local", False, None, sys.executable,
                                                missing=in_controller.missing_libraries(self.TASK, validated.params))

    def _inject_invocation(self, task_vars: t.Dict[str, t.Any]) -> bool:
        """Whether a module's result carries ``invocation``: always before ansible-core 2.21, then INJECT_INVOCATION."""
        if not C.config.get_configuration_definition("INJECT_INVOCATION"):
            return True
        return bool(C.config.get_config_value("INJECT_INVOCATION", variables=task_vars))

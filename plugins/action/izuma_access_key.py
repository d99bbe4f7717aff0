# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller side of izuma_access_key: run the module, and hide a result that carries a secret.

A module cannot mark its own result ``no_log`` (Ansible drops ``_ansible_*`` keys from module results), so this action
does it: when the module returns the key's secret (``return_secret: true``), the result gets ``_ansible_no_log``, and
Ansible then shows none of it, at any verbosity, in any callback or log; the registered variable keeps it.
"""

from __future__ import annotations

import typing as t

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    """Run izuma_access_key where the task runs; censor the result when it holds a secret."""

    TRANSFERS_FILES = False

    def run(self, tmp: t.Any = None, task_vars: t.Optional[t.Dict[str, t.Any]] = None) -> t.Dict[str, t.Any]:
        result = super().run(tmp, task_vars)
        result.update(self._execute_module(module_name=self._task.resolved_action or "izuma.device_management.izuma_access_key",
                                           module_args=self._task.args, task_vars=task_vars))
        if "secret" in result:
            result["_ansible_no_log"] = True
        return result

# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller side of izuma_access_key: run its core in the controller process when the task runs there as the
controller's own user (plugin_utils ``_task_action``), else the module; and hide a result that carries a secret.

A module cannot mark its own result ``no_log`` (Ansible drops ``_ansible_*`` keys from module results), so this action
does it: when the result holds the key's secret (``return_secret: true``), it gets ``_ansible_no_log``, and
Ansible then shows none of it, at any verbosity, in any callback or log; the registered variable keeps it.
"""

from __future__ import annotations

import typing as t

from ansible_collections.izuma.device_management.plugins.module_utils._tasks.access_key import TASK
from ansible_collections.izuma.device_management.plugins.plugin_utils._task_action import TaskAction


class ActionModule(TaskAction):
    """izuma_access_key in the controller process where it can, else its module; censor a result holding a secret."""

    TASK = TASK
    MODULE = "izuma.device_management.izuma_access_key"

    def run(self, tmp: t.Any = None, task_vars: t.Optional[t.Dict[str, t.Any]] = None) -> t.Dict[str, t.Any]:
        result = super().run(tmp, task_vars)
        if "secret" in result:
            result["_ansible_no_log"] = True
        return result

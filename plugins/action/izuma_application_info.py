# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller side of izuma_application_info: its core in the controller process when the task runs there as the controller's
own user (plugin_utils ``_task_action``), else the module."""

from __future__ import annotations

from ansible_collections.izuma.device_management.plugins.module_utils._tasks.application import INFO_TASK
from ansible_collections.izuma.device_management.plugins.plugin_utils._task_action import TaskAction


class ActionModule(TaskAction):
    """izuma_application_info in the controller process where it can, else its module."""

    TASK = INFO_TASK
    MODULE = "izuma.device_management.izuma_application_info"

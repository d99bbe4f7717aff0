# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""The thin layer between AnsibleModule and the core.

It adds the connection options (with their environment fallbacks, each
recording the variable it read, so that the client knows which options came
from the environment) to a module's argument spec, builds the one API client of
the run and shows its warnings (``module.warn``), checks the libraries the module needs, and turns
every ``IzumaError`` into a clean ``fail_json``: a message and the API's error
details, never a traceback and never a secret.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.izuma.device_management.plugins.module_utils._api import HAS_REQUESTS, REQUESTS_IMPORT_ERROR, IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._api_config import ClientConfig
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaApiError, IzumaError, IzumaMissingError
from ansible_collections.izuma.device_management.plugins.module_utils._tasks import TaskDefinition, full_argument_spec


class IzumaModule:
    """An AnsibleModule with the connection options, one lazily built client, and clean failures."""

    def __init__(self, argument_spec: Dict[str, Any], supports_check_mode: bool = True, **kwargs: Any) -> None:
        # Filled in by the fallbacks while AnsibleModule validates the arguments.
        self._sources: Dict[str, str] = {}
        self.module = AnsibleModule(argument_spec=full_argument_spec(argument_spec, self._sources),
                                    supports_check_mode=supports_check_mode, **kwargs)
        self.params = self.module.params
        self.check_mode = self.module.check_mode
        self._client: Optional[IzumaClient] = None
        if not HAS_REQUESTS:
            self.module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)

    @property
    def diff_mode(self) -> bool:
        """True when the task runs with --diff."""
        return bool(self.module._diff)

    @property
    def client(self) -> IzumaClient:
        """The run's API client, built on first use."""
        if self._client is None:
            self._client = IzumaClient(ClientConfig.from_options(self.params.get, sources=self._sources))
            for warning in self._client.warnings:
                self.module.warn(warning)
        return self._client

    def require(self, has_library: bool, library: str, import_error: Optional[str]) -> None:
        """Fail with Ansible's standard message when a Python library the task needs is missing."""
        if not has_library:
            self.module.fail_json(msg=missing_required_lib(library), exception=import_error)

    def run(self, main: Callable[["IzumaModule"], Dict[str, Any]]) -> None:
        """Call ``main(self)`` and exit with its result, or fail cleanly on an IzumaError."""
        try:
            result = main(self)
        except (IzumaApiError, IzumaMissingError) as exc:
            self.module.fail_json(msg=str(exc), error=exc.to_dict())
        except IzumaError as exc:
            self.module.fail_json(msg=str(exc))
        # The core returns its warnings in the result; Ansible shows them through warn().
        for warning in result.pop("warnings", None) or []:
            self.module.warn(warning)
        self.module.exit_json(**result)


def run_module(task: TaskDefinition) -> None:
    """Run one API module: validate its options with AnsibleModule, check its libraries, run its core, exit."""
    izuma = IzumaModule(argument_spec=task.argument_spec, **task.rules)
    for library, has_library, import_error in task.libraries:
        izuma.require(has_library, library, import_error)
    izuma.run(task.core)

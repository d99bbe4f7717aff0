# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Run an API module's core in the controller process, where the module would run there anyway.

``module_path_reason`` decides (a pure function of what the action plugin knows): the core runs in the controller
(the worker process of the task) only when the task would run its module on the controller as the controller's own
user with the controller's own Python: the ``local`` connection (``delegate_to: localhost`` included), no become, no
async, an interpreter that is the controller's (or none chosen: discovery), and the libraries the core needs
importable. Everywhere else the action plugin runs the module as before.

``run_in_controller`` is then what ``AnsibleModule`` and module_utils ``_module.IzumaModule`` do for the module, with
Ansible's own pieces: the same argument spec and rules (module_utils ``_tasks``) validated by
``ArgumentSpecValidator`` (environment fallbacks read the environment the module would get: the controller's and the
task's ``environment``), the same facade for the core (params, client, check and diff mode), the same clean failure
for an ``IzumaError``, the warnings and deprecations of validation, the file facts of a result's ``path`` or ``dest``
(``AnsibleModule.add_path_info`` itself), ``invocation`` where Ansible keeps it, and the values of ``no_log`` options
removed from the result with ``remove_values``, as ``exit_json`` does.
"""

from __future__ import annotations

import contextlib
import json
import os
import typing as t

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError

from ansible_collections.izuma.device_management.plugins.module_utils._api import HAS_REQUESTS, IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._api_config import ClientConfig
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaApiError, IzumaError, IzumaMissingError
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11.session import HAS_PKCS11
from ansible_collections.izuma.device_management.plugins.module_utils._tasks import TaskDefinition, full_argument_spec, needs_pkcs11

# Interpreter settings that mean "discover it", not a Python chosen on purpose.
DISCOVERY = ("", "auto", "auto_legacy", "auto_silent", "auto_legacy_silent")


def module_path_reason(transport: t.Optional[str], become: bool, interpreter: t.Optional[str], controller_python: str,
                       async_seconds: int = 0, missing: t.Sequence[str] = ()) -> t.Optional[str]:
    """Why the task must run its module (a sentence), or None when its core can run in the controller process.

    ``transport`` is the connection's (``local`` for the controller itself, delegated or not); ``interpreter`` the
    host's Python setting (``ansible_python_interpreter`` or the configuration; None or an ``auto`` mode when none was
    chosen), the same Python as ``controller_python`` when both resolve to one executable in one virtual environment
    (``python_identity``); ``missing`` the libraries the controller cannot import.
    """
    if transport != "local":
        return "the connection is %s, not local" % (transport or "unknown")
    if become:
        return "the task uses become"
    if async_seconds:
        return "the task runs asynchronously"
    if interpreter is not None and str(interpreter).strip() not in DISCOVERY and \
            python_identity(str(interpreter).strip()) != python_identity(controller_python):
        return "the host's Python is %s, not the controller's %s" % (interpreter, controller_python)
    if missing:
        return "the controller cannot import %s" % ", ".join(missing)
    return None


def python_identity(path: str) -> t.Tuple[str, t.Optional[str]]:
    """What makes two paths the same Python: the executable they resolve to, and the virtual environment they start
    (the directory above ``bin`` when it holds ``pyvenv.cfg``, resolved); a command with arguments is itself."""
    path = os.path.expanduser(path)
    if not os.path.isabs(path) or not os.path.exists(path):
        return (path, None)
    root = os.path.dirname(os.path.dirname(os.path.abspath(path)))
    venv = os.path.realpath(root) if os.path.exists(os.path.join(root, "pyvenv.cfg")) else None
    return (os.path.realpath(path), venv)


def missing_libraries(task: TaskDefinition, params: t.Mapping[str, t.Any]) -> t.List[str]:
    """The libraries the core needs for ``params`` that this process cannot import."""
    missing = [] if HAS_REQUESTS else ["requests"]
    missing.extend(name for name, has_library, _error in task.libraries if not has_library)
    if needs_pkcs11(dict(params)) and not HAS_PKCS11:
        missing.append("python-pkcs11")
    return missing


class ControllerModule:
    """What a core sees of its module (module_utils ``_module.IzumaModule``), in the controller process."""

    def __init__(self, params: t.Dict[str, t.Any], sources: t.Dict[str, str], check_mode: bool, diff_mode: bool) -> None:
        self.params = params
        self.check_mode = check_mode
        self.diff_mode = diff_mode
        self.warnings: t.List[str] = []
        self._sources = sources
        self._client: t.Optional[IzumaClient] = None

    @property
    def client(self) -> IzumaClient:
        """The run's API client, built on first use; its warnings join the task's."""
        if self._client is None:
            self._client = IzumaClient(ClientConfig.from_options(self.params.get, sources=self._sources))
            self.warnings.extend(self._client.warnings)
        return self._client


class PathFacts(AnsibleModule):
    """AnsibleModule's own ``add_path_info`` (owner, group, mode, size, state, SELinux context of a result's file),
    without a module around it: only the attributes those methods read are set."""

    def __init__(self) -> None:  # pylint: disable=super-init-not-called
        self._selinux_enabled = None
        self._selinux_mls_enabled = None
        self._selinux_initial_context = None

    def fail_json(self, msg: str, **kwargs: t.Any) -> t.NoReturn:  # type: ignore[override]
        """A failure to read the file's SELinux context: a clean error, not an exit of the worker."""
        raise IzumaError("%s %s" % (msg, kwargs.get("path") or ""))


@contextlib.contextmanager
def environment(variables: t.Mapping[str, t.Any]) -> t.Iterator[None]:
    """The task's ``environment`` over the process's, as the module's process gets it, restored afterwards."""
    saved = {name: os.environ.get(name) for name in variables}
    try:
        os.environ.update({name: str(value) for name, value in variables.items()})
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class Validated(t.NamedTuple):
    """Task arguments validated as AnsibleModule validates them."""

    params: t.Dict[str, t.Any]
    sources: t.Dict[str, str]
    no_log_values: t.Set[str]
    error: t.Optional[str]
    warnings: t.List[str]
    deprecations: t.List[t.Dict[str, t.Any]]


def validate(task: TaskDefinition, args: t.Mapping[str, t.Any], module_name: str) -> Validated:
    """Validate ``args`` with the module's own spec and rules (in the current environment); never raises for bad input."""
    sources: t.Dict[str, str] = {}
    validator = ArgumentSpecValidator(full_argument_spec(task.argument_spec, sources), **task.rules)
    params = dict(args)
    outcome = validator.validate(params)
    params.update(outcome.validated_parameters)
    error = None
    if outcome.error_messages:
        error = outcome.errors.msg
        if isinstance(outcome.errors[0], UnsupportedError):
            error = "Unsupported parameters for (%s) module: %s" % (module_name, error)
    # As ModuleArgumentSpecValidator reports them.
    warnings = ["Both option {option} and its alias {alias} are set.".format(**w) for w in outcome._warnings]  # pylint: disable=protected-access
    deprecations = [dict(d) for d in outcome._deprecations]  # pylint: disable=protected-access
    return Validated(params, sources, set(outcome._no_log_values), error, warnings, deprecations)  # pylint: disable=protected-access


def run_core(task: TaskDefinition, validated: Validated, check_mode: bool, diff_mode: bool) -> t.Dict[str, t.Any]:
    """The core's result, or the failure ``IzumaModule.run`` reports; warnings in ``result["warnings"]`` in order."""
    facade = ControllerModule(validated.params, validated.sources, check_mode, diff_mode)
    try:
        result = task.core(facade)
    except (IzumaApiError, IzumaMissingError) as exc:
        result = dict(failed=True, msg=str(exc), error=exc.to_dict())
    except IzumaError as exc:
        result = dict(failed=True, msg=str(exc))
    result["warnings"] = facade.warnings + list(result.pop("warnings", None) or [])
    return result


def finish(result: t.Dict[str, t.Any], validated: Validated, inject_invocation: bool) -> t.Dict[str, t.Any]:
    """The result as ``AnsibleModule.exit_json`` returns it: invocation, warnings, no_log values removed; then a JSON
    round trip, as the module's result takes."""
    try:
        PathFacts().add_path_info(result)
    except IzumaError as exc:
        result = dict(failed=True, msg=str(exc))
    if inject_invocation and "invocation" not in result:
        result["invocation"] = {"module_args": validated.params}
    warnings = validated.warnings + list(result.pop("warnings", None) or [])
    if warnings:
        result["warnings"] = warnings
    if validated.deprecations:
        result["deprecations"] = validated.deprecations
    preserved = {key: value for key, value in result.items() if value is None or isinstance(value, bool)}
    result = remove_values(result, validated.no_log_values)
    result.update(preserved)
    return json.loads(json.dumps(result))


def run_in_controller(task: TaskDefinition, validated: Validated, check_mode: bool, diff_mode: bool,
                      inject_invocation: bool) -> t.Dict[str, t.Any]:
    """Run the core of ``task`` with the validated arguments; the result the module would have returned."""
    if validated.error is not None:
        return finish(dict(failed=True, msg=validated.error), validated, inject_invocation)
    return finish(run_core(task, validated, check_mode, diff_mode), validated, inject_invocation)

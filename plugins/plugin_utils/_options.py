# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Plugin options resolved once per process where they cannot change, for plugins called many times.

Ansible resolves every option of a lookup again on each call (``set_options``): definitions, the keyword
arguments, variables, the environment, ``ansible.cfg`` and the default, with a type check each; for a lookup with
seventeen options that costs several times the token it signs. Within one process the environment and the
configuration file do not change, so ``OptionResolver`` reads that layer once, and per call applies only what can
change: keyword arguments, then variables, with Ansible's own precedence (a keyword argument, then the last
defined of an option's ``vars``, then the environment, ``ansible.cfg``, the default) and type conversion.
"""

from __future__ import annotations

import threading
import typing as t

from ansible import constants as C
from ansible.config.manager import ensure_type
from ansible.errors import AnsibleOptionsError


class OptionResolver:
    """The options of one plugin (by type and load name): the fixed layer once, the per-call layer each call."""

    def __init__(self, plugin_type: str) -> None:
        self.plugin_type = plugin_type
        self._lock = threading.Lock()
        self._fixed = {}  # type: t.Dict[str, t.Tuple[t.Dict[str, t.Any], t.Dict[str, t.Any], t.List[str]]]

    def _layer(self, name: str) -> t.Tuple[t.Dict[str, t.Any], t.Dict[str, t.Any], t.List[str]]:
        """(definitions, values from the environment, ansible.cfg and defaults, variable names) of plugin ``name``, read once."""
        with self._lock:
            known = self._fixed.get(name)
        if known is None:
            definitions = C.config.get_configuration_definitions(plugin_type=self.plugin_type, name=name)
            values = C.config.get_plugin_options(self.plugin_type, name)
            names = [entry["name"] for definition in definitions.values() for entry in definition.get("vars") or ()]
            known = (definitions, values, names)
            with self._lock:
                self._fixed[name] = known
        return known

    def variable_names(self, name: str) -> t.List[str]:
        """Every variable any option of plugin ``name`` may come from."""
        return self._layer(name)[2]

    def resolve(self, name: str, variables: t.Optional[t.Mapping[str, t.Any]], direct: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
        """Every option of plugin ``name`` for one call, as ``set_options(var_options=variables, direct=direct)`` gives."""
        definitions, fixed, _names = self._layer(name)
        options = dict(fixed)
        for option, definition in definitions.items():
            value, origin = direct.get(option), "Direct"
            if value is None and variables:
                for entry in definition.get("vars") or ():
                    candidate = variables.get(entry["name"])
                    if candidate is not None:
                        # As Ansible: the last defined variable of the list wins.
                        value, origin = candidate, "var: %s" % entry["name"]
            if value is None:
                continue
            try:
                options[option] = ensure_type(value, definition.get("type"), origin=origin)
            except ValueError as exc:
                raise AnsibleOptionsError("Config %s from %r has an invalid value." % (option, origin)) from exc
        return options

    def clear(self) -> None:
        """Forget what was read (tests change the environment and configuration between calls)."""
        with self._lock:
            self._fixed.clear()


LOOKUP_OPTIONS = OptionResolver("lookup")

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


# Option types whose value ``ensure_type`` hands back unchanged when it is already of this Python type: such a value
# needs no conversion (and no tag copy), which is most of the per-call cost of resolving options.
_UNCHANGED = {"str": str, "string": str, "bool": bool, "boolean": bool, "list": list, "dict": dict, "dictionary": dict}
_AS_IS = (None, "", "raw")


def _unchanged(value_type: t.Optional[str], value: t.Any) -> bool:
    """True when ``ensure_type(value, value_type)`` would return ``value`` itself."""
    if value_type in _AS_IS:
        return True
    if value_type in ("int", "integer"):
        # Only a plain int is returned as it is (a bool, or an int subclass, becomes a new int).
        return type(value) is int  # pylint: disable=unidiomatic-typecheck
    unchanged = _UNCHANGED.get(value_type) if value_type is not None else None
    return unchanged is not None and isinstance(value, unchanged)


class _Layer:
    """What cannot change within a process for one plugin: definitions, fixed values, where variables come from."""

    __slots__ = ("definitions", "values", "variable_names", "from_variables", "types")

    def __init__(self, definitions: t.Dict[str, t.Any], values: t.Dict[str, t.Any]) -> None:
        self.definitions = definitions
        self.values = values
        # Each option's variables in reverse, so that the first defined found is the last of the list (Ansible's rule).
        self.from_variables = [(option, tuple(entry["name"] for entry in reversed(definition.get("vars") or ())))
                               for option, definition in definitions.items() if definition.get("vars")]
        self.variable_names = [name for _option, names in self.from_variables for name in reversed(names)]
        self.types = {option: (definition.get("type") or "").lower() or None for option, definition in definitions.items()}


class OptionResolver:
    """The options of one plugin (by type and load name): the fixed layer once, the per-call layer each call."""

    def __init__(self, plugin_type: str) -> None:
        self.plugin_type = plugin_type
        self._lock = threading.Lock()
        self._fixed = {}  # type: t.Dict[str, _Layer]

    def _layer(self, name: str) -> _Layer:
        """The definitions and the values from the environment, ansible.cfg and defaults of plugin ``name``, read once."""
        with self._lock:
            known = self._fixed.get(name)
        if known is None:
            known = _Layer(C.config.get_configuration_definitions(plugin_type=self.plugin_type, name=name),
                           C.config.get_plugin_options(self.plugin_type, name))
            with self._lock:
                self._fixed[name] = known
        return known

    def variable_names(self, name: str) -> t.List[str]:
        """Every variable any option of plugin ``name`` may come from."""
        return self._layer(name).variable_names

    def resolve(self, name: str, variables: t.Optional[t.Mapping[str, t.Any]], direct: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
        """Every option of plugin ``name`` for one call, as ``set_options(var_options=variables, direct=direct)`` gives."""
        layer = self._layer(name)
        options = dict(layer.values)
        given = {}  # type: t.Dict[str, t.Tuple[t.Any, str]]
        if variables:
            for option, names in layer.from_variables:
                for variable in names:
                    candidate = variables.get(variable)
                    if candidate is not None:
                        given[option] = (candidate, "var: %s" % variable)
                        break
        for option, value in direct.items():
            # A keyword argument wins over variables; one that is not an option is ignored, as set_options does.
            if value is not None and option in layer.types:
                given[option] = (value, "Direct")
        for option, (value, origin) in given.items():
            value_type = layer.types[option]
            if _unchanged(value_type, value):
                options[option] = value
                continue
            try:
                options[option] = ensure_type(value, value_type, origin=origin)
            except ValueError as exc:
                raise AnsibleOptionsError("Config %s from %r has an invalid value." % (option, origin)) from exc
        return options

    def clear(self) -> None:
        """Forget what was read (tests change the environment and configuration between calls)."""
        with self._lock:
            self._fixed.clear()


LOOKUP_OPTIONS = OptionResolver("lookup")

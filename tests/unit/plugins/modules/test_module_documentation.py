# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every module's documentation says what its argument spec does: same options, defaults, choices, types, required.

The argument spec is the one source of every default (the verification-key core takes its defaults from it); the
documentation repeats them for ansible-doc, and this test keeps the two from drifting apart.
"""

from __future__ import annotations

import importlib
import os
import typing as t

import pytest
import yaml

from ansible_collections.izuma.device_management.plugins.module_utils import _module

PREFIX = "ansible_collections.izuma.device_management.plugins"
MODULES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "plugins", "modules")
MODULES = sorted(name[:-3] for name in os.listdir(MODULES_DIR) if name.endswith(".py") and not name.startswith("_"))


class Captured(Exception):
    """Raised by the stand-in AnsibleModule, carrying the keyword arguments the module gave it."""

    def __init__(self, kwargs: t.Dict[str, t.Any]) -> None:
        super().__init__("captured")
        self.kwargs = kwargs


def argument_spec(module: t.Any, monkeypatch: pytest.MonkeyPatch) -> t.Dict[str, t.Any]:
    """The argument spec the module's main() passes to AnsibleModule (connection options included)."""
    def stand_in(*_args: t.Any, **kwargs: t.Any) -> None:
        raise Captured(kwargs)

    monkeypatch.setattr(_module, "AnsibleModule", stand_in)
    if hasattr(module, "AnsibleModule"):
        monkeypatch.setattr(module, "AnsibleModule", stand_in)
    with pytest.raises(Captured) as info:
        module.main()
    return info.value.kwargs["argument_spec"]


def documented_options(module: t.Any) -> t.Dict[str, t.Any]:
    """The module's options, with those of the collection's own doc fragments it extends."""
    doc = yaml.safe_load(module.DOCUMENTATION)
    options: t.Dict[str, t.Any] = {}
    for fragment in doc.get("extends_documentation_fragment") or []:
        if not fragment.startswith("izuma.device_management."):
            continue
        name, _dot, variant = fragment[len("izuma.device_management."):].partition(".")
        holder = importlib.import_module("%s.doc_fragments.%s" % (PREFIX, name)).ModuleDocFragment
        options.update(yaml.safe_load(getattr(holder, variant.upper() or "DOCUMENTATION")).get("options") or {})
    options.update(doc.get("options") or {})
    return options


@pytest.mark.parametrize("name", MODULES)
def test_documentation_and_argument_spec_agree(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module("%s.modules.%s" % (PREFIX, name))
    spec = argument_spec(module, monkeypatch)
    documented = documented_options(module)
    assert sorted(spec) == sorted(documented), "options in the spec only: %s; in the documentation only: %s" % (
        sorted(set(spec) - set(documented)), sorted(set(documented) - set(spec)))
    for option, doc in documented.items():
        rules = spec[option]
        assert doc.get("default") == rules.get("default"), "%s: %s documents default %r, the spec has %r" % (
            name, option, doc.get("default"), rules.get("default"))
        assert doc.get("choices") == rules.get("choices"), "%s: %s choices" % (name, option)
        assert doc.get("type", "str") == rules.get("type", "str"), "%s: %s type" % (name, option)
        assert bool(doc.get("required")) == bool(rules.get("required")), "%s: %s required" % (name, option)
        assert doc.get("elements") == rules.get("elements"), "%s: %s elements" % (name, option)


def test_the_verification_key_core_takes_its_defaults_from_the_spec() -> None:
    from ansible_collections.izuma.device_management.plugins.module_utils._verification_key import options

    want = options.Desired(name="x", private_key_path="/k")
    for option, field_name in (("valid_days", "valid_days"), ("renew_before", "renew_before"), ("grace_period", "grace_period"),
                               ("key_type", "key_type"), ("previous_suffix", "previous_suffix"), ("names", "extra_names"),
                               ("retire_previous", "retire_previous"), ("state", "state")):
        assert getattr(want, field_name) == options.ARGUMENT_SPEC[option]["default"], option

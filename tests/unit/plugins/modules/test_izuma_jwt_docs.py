# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The documented defaults of izuma_jwt (module and lookup) are the argument spec's: they cannot drift."""

from __future__ import annotations

import typing as t

import yaml

from ansible.plugins.doc_fragments.files import ModuleDocFragment as FilesFragment

from ansible_collections.izuma.device_management.plugins.doc_fragments.jwt import ModuleDocFragment as JwtFragment
from ansible_collections.izuma.device_management.plugins.doc_fragments.pkcs11 import ModuleDocFragment as Pkcs11Fragment
from ansible_collections.izuma.device_management.plugins.lookup import izuma_jwt as lookup_plugin
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import options as jwt_options
from ansible_collections.izuma.device_management.plugins.modules import izuma_jwt as module

# Options whose lookup default differs from the module's on purpose (documented in each): a lookup token is for the
# next task, a deployed one for a day.
LOOKUP_OWN_DEFAULTS = {"lifetime"}


def documented(doc: str, *fragments: str) -> t.Dict[str, t.Dict[str, t.Any]]:
    """The options of ``doc`` after merging ``fragments`` the way ansible-doc does (the plugin's own keys win)."""
    options = dict(yaml.safe_load(doc)["options"])
    for fragment in fragments:
        for name, definition in yaml.safe_load(fragment)["options"].items():
            merged = dict(definition)
            merged.update(options.get(name, {}))
            options[name] = merged
    return options


def spec_default(spec: t.Mapping[str, t.Any], name: str) -> t.Any:
    return spec[name].get("default")


def test_module_documents_every_option_with_the_spec_default() -> None:
    options = documented(module.DOCUMENTATION, JwtFragment.DOCUMENTATION, Pkcs11Fragment.DOCUMENTATION, FilesFragment.DOCUMENTATION)
    spec = jwt_options.task_argument_spec()
    assert set(options) == set(spec)
    for name, definition in options.items():
        assert definition.get("default") == spec_default(spec, name), name
        assert definition.get("choices") == spec[name].get("choices"), name


def test_lookup_documents_the_spec_defaults_for_shared_options() -> None:
    options = documented(lookup_plugin.DOCUMENTATION, JwtFragment.DOCUMENTATION, JwtFragment.PLUGINS)
    spec = jwt_options.argument_spec()
    shared = (set(options) & set(spec)) - LOOKUP_OWN_DEFAULTS
    assert {"max_lifetime", "random_jwt_id", "key_id", "algorithm", "private_key_path"} <= shared
    for name in sorted(shared):
        assert options[name].get("default") == spec_default(spec, name), name


def test_plugins_fragment_adds_only_sources() -> None:
    # The lookup variant says where else an option comes from; every text is in the module variant.
    plugins = yaml.safe_load(JwtFragment.PLUGINS)["options"]
    shared = yaml.safe_load(JwtFragment.DOCUMENTATION)["options"]
    for name, definition in plugins.items():
        assert name in shared, name
        assert set(definition) <= {"env", "vars", "ini"}, name

# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of plugin_utils/_options.py: the options of the izuma_jwt lookup, with Ansible's precedence, read once."""

from __future__ import annotations

import typing as t

import pytest

from ansible.config.manager import ensure_type
from ansible.errors import AnsibleOptionsError

from ansible_collections.izuma.device_management.plugins.plugin_utils import _options as options
from ansible_collections.izuma.device_management.tests.unit.plugins.jwt_support import LOOKUP_NAME, make_lookup


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> options.OptionResolver:
    for name in ("IZUMA_JWT_LIFETIME", "IZUMA_JWT_ISSUER", "IZUMA_JWT_ALGORITHM"):
        monkeypatch.delenv(name, raising=False)
    make_lookup()  # registers the lookup's option definitions, as the plugin loader does
    return options.OptionResolver("lookup")


def test_resolves_as_set_options_does(resolver: options.OptionResolver) -> None:
    lookup = make_lookup()
    for variables, direct in (({}, {}), ({"izuma_jwt_lifetime": "60"}, {"issuer": "me"}), ({"izuma_jwt_claims": {"a": 1}}, {"lifetime": 5})):
        lookup.set_options(var_options=variables, direct=direct)
        expected = {name: lookup.get_option(name) for name in resolver.resolve(LOOKUP_NAME, variables, direct)}
        assert resolver.resolve(LOOKUP_NAME, variables, direct) == expected


def test_precedence_direct_then_variables_then_environment(resolver: options.OptionResolver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IZUMA_JWT_LIFETIME", "30")
    assert resolver.resolve(LOOKUP_NAME, {}, {})["lifetime"] == 30
    assert resolver.resolve(LOOKUP_NAME, {"izuma_jwt_lifetime": "45"}, {})["lifetime"] == 45
    assert resolver.resolve(LOOKUP_NAME, {"izuma_jwt_lifetime": 45}, {"lifetime": "15"})["lifetime"] == 15
    # A None argument is no argument, as for Ansible.
    assert resolver.resolve(LOOKUP_NAME, {}, {"lifetime": None})["lifetime"] == 30


def test_environment_and_config_are_read_once(resolver: options.OptionResolver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IZUMA_JWT_ISSUER", "first")
    assert resolver.resolve(LOOKUP_NAME, {}, {})["issuer"] == "first"
    monkeypatch.setenv("IZUMA_JWT_ISSUER", "second")
    assert resolver.resolve(LOOKUP_NAME, {}, {})["issuer"] == "first"
    resolver.clear()
    assert resolver.resolve(LOOKUP_NAME, {}, {})["issuer"] == "second"


def test_variable_names_and_bad_values(resolver: options.OptionResolver) -> None:
    names = resolver.variable_names(LOOKUP_NAME)
    assert {"izuma_jwt_lifetime", "izuma_jwt_private_key_path", "izuma_jwt_reuse_tokens"} <= set(names)
    with pytest.raises(AnsibleOptionsError, match="Config lifetime from 'Direct' has an invalid value"):
        resolver.resolve(LOOKUP_NAME, {}, {"lifetime": "soon"})
    with pytest.raises(AnsibleOptionsError, match="from 'var: izuma_jwt_lifetime'"):
        resolver.resolve(LOOKUP_NAME, {"izuma_jwt_lifetime": "soon"}, {})
    assert isinstance(names, list) and all(isinstance(name, str) for name in names)
    assert t.cast(t.Any, options.LOOKUP_OPTIONS).plugin_type == "lookup"


def test_values_of_the_right_type_are_kept_as_ensure_type_keeps_them(resolver: options.OptionResolver) -> None:
    # A value already of its option's type skips ensure_type (the per-call cost); others still convert or fail.
    lookup = make_lookup()
    cases = (
        ({"izuma_jwt_reuse_tokens": False, "izuma_jwt_claims": {"a": [1]}}, {"lifetime": 30, "audience": ["x"], "subject": "s"}),
        ({"izuma_jwt_reuse_tokens": "no", "izuma_jwt_lifetime": 40.0}, {"audience": "x,y", "random_jwt_id": "yes", "lifetime": True}),
    )
    for variables, direct in cases:
        lookup.set_options(var_options=variables, direct=direct)
        resolved = resolver.resolve(LOOKUP_NAME, variables, direct)
        assert resolved == {name: lookup.get_option(name) for name in resolved}
        from_variables = [(name[len("izuma_jwt_"):], value) for name, value in variables.items() if name[len("izuma_jwt_"):] not in direct]
        for name, value in list(direct.items()) + from_variables:
            # What ensure_type gives (set_options then adds origin tags, which the resolver never did).
            expected = ensure_type(value, resolver._layer(LOOKUP_NAME).types[name], origin="Direct")
            assert type(resolved[name]) is type(expected) and resolved[name] == expected
            if type(value) is type(expected):  # pylint: disable=unidiomatic-typecheck
                assert resolved[name] is value

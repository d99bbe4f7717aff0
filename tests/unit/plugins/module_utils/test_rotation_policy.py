# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of module_utils/_rotation_policy.py: the options and the policy access keys and verification keys share."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.izuma.device_management.plugins.module_utils import _rotation_policy as policy
from ansible_collections.izuma.device_management.plugins.module_utils._access_key import options as access_options
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaConfigError
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key import options as key_options

NOW = datetime.datetime(2030, 6, 1, 12, 0, tzinfo=datetime.timezone.utc)


def test_both_modules_take_the_shared_options_as_they_are_and_both_desired_states_are_rotated_keys() -> None:
    for options in (access_options, key_options):
        for name, rules in policy.ARGUMENT_SPEC.items():
            assert options.ARGUMENT_SPEC[name] == rules, name
        assert options.REQUIRED_ONE_OF == [("application", "application_id")]
        assert issubclass(options.Desired, policy.RotatedKey)
    picked = policy.options("state", "name")
    assert list(picked) == ["state", "name"]
    picked["state"]["default"] = "absent"
    assert policy.ARGUMENT_SPEC["state"]["default"] == "present"


def test_a_key_is_due_by_age_once_it_is_rotate_after_days_whole_days_old() -> None:
    want = policy.RotatedKey(name="k", rotate_after_days=90)
    assert want.age_reason(NOW - datetime.timedelta(days=90), NOW) == "key is 90 days old (rotate_after_days=90)"
    assert want.age_reason(NOW - datetime.timedelta(days=90, seconds=-1), NOW) is None
    assert want.age_reason(None, NOW) is None
    assert policy.RotatedKey(name="k").age_reason(NOW - datetime.timedelta(days=900), NOW) is None
    assert policy.age_days(NOW - datetime.timedelta(days=3, hours=23), NOW) == 3


@pytest.mark.parametrize("retire, age, expected", [
    ("auto", 3600.0, True), ("auto", 3599.0, False), ("now", 0.0, True), ("never", 10.0 ** 9, False),
])
def test_the_previous_generation_may_go_by_retire_previous_and_the_grace_period(retire: str, age: float, expected: bool) -> None:
    want = policy.RotatedKey(name="k", grace_period=3600, retire_previous=retire)
    assert want.may_retire(age) is expected
    assert want.grace_passed(age) is (age >= 3600)
    assert policy.age_seconds(NOW - datetime.timedelta(seconds=age), NOW) == age


def test_a_description_longer_than_the_api_takes_is_refused() -> None:
    policy.RotatedKey(name="k", description="d" * policy.MAX_DESCRIPTION_CHARS).check_description()
    with pytest.raises(IzumaConfigError, match="description must be at most 500 characters"):
        policy.RotatedKey(name="k", description="d" * (policy.MAX_DESCRIPTION_CHARS + 1)).check_description()

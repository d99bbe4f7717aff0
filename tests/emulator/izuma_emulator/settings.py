# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulator's tunable rules.

The contract tags some rules DOC or PUB (documented by Izuma) and others DESIGN
(our guess, modelled on the documented APIs). Every such value lives here so a
test can change it through ``POST /_emulator/settings`` and check that the client
does not depend on a DESIGN detail.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

# Settings whose values are HTTP statuses and must therefore be client errors.
_STATUS_SETTINGS = ("limit_exceeded_status", "duplicate_status")
# Settings that take one of a few words.
_CHOICE_SETTINGS: dict[str, tuple[str, ...]] = {"absent_values": ("spec", "null", "omit")}


@dataclass(frozen=True)
class Settings:
    """The rules the emulator enforces; the comment on each says where the value comes from."""

    # PUB: 4 applications on a free account, 25 on a commercial one.
    max_applications: int = 25
    # DOC: at most two verification keys per application.
    max_verification_keys: int = 2
    # DOC: the certificate is limited to 2,000 characters.
    max_certificate_chars: int = 2000
    # DOC: minimum key lengths, RSA 2048 and EC 256.
    min_rsa_bits: int = 2048
    min_ec_bits: int = 256
    # PUB: name and description lengths of IAM objects.
    max_name_chars: int = 100
    max_description_chars: int = 500
    # DESIGN: the HTTP status for a per-application or per-account limit (type account_limit_exceeded).
    limit_exceeded_status: int = 400
    # DESIGN: the HTTP status for a duplicate name or certificate (type duplicate).
    duplicate_status: int = 409
    # DESIGN: whether If-Match on PUT/DELETE is checked (412 precondition_failed on mismatch).
    honour_if_match: bool = True
    # DESIGN (emulator strictness): refuse request fields the contract does not list, so a
    # client's typo or reliance on an undocumented field shows up as a 400.
    reject_unknown_fields: bool = True
    # PUB: list paging bounds.
    list_default_limit: int = 50
    list_min_limit: int = 2
    list_max_limit: int = 1000
    # The public specification against the emulator's earlier behaviour (issue 10; tests/emulator/README.md says why).
    # SPEC: the read-only fields of an object sent back in a body are ignored; false refuses them as unknown (400).
    accept_read_only_fields: bool = True
    # SPEC: a list always has total_count (the schema requires it); false: only with include=total_count.
    always_total_count: bool = True
    # SPEC: an access key's ``key`` outside the create response is the key without its secret part; false: null.
    show_access_key_without_secret: bool = True
    # DOC: status can be set (active or inactive) only while the certificate has not expired; true accepts
    # INACTIVE on an expired key (the emulator's earlier reading).
    allow_inactive_on_expired_key: bool = False
    # A value that is absent: "spec" sends the list's ``after`` as null (as recorded) and leaves out
    # ``last_used_at`` and ``expiration``; "null" sends every absent value as null; "omit" leaves every one out.
    absent_values: str = "spec"

    def as_dict(self) -> dict[str, object]:
        """Return the settings as a JSON-ready dict."""
        return dataclasses.asdict(self)

    def updated(self, changes: dict[str, object]) -> Settings:
        """Return a copy with ``changes`` applied; raise ValueError naming the first bad entry."""
        known = {item.name: item for item in dataclasses.fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown setting {name!r}; known settings: {', '.join(sorted(known))}")
            if name in _CHOICE_SETTINGS:
                if value not in _CHOICE_SETTINGS[name]:
                    raise ValueError(f"setting {name!r} must be one of {', '.join(_CHOICE_SETTINGS[name])}")
            elif known[name].type in (bool, "bool"):
                if not isinstance(value, bool):
                    raise ValueError(f"setting {name!r} must be true or false")
            elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"setting {name!r} must be a non-negative integer")
            elif name in _STATUS_SETTINGS and not 400 <= value <= 499:
                raise ValueError(f"setting {name!r} must be an HTTP client-error status (400-499)")
        result = dataclasses.replace(self, **changes)
        if not 1 <= result.list_min_limit <= result.list_default_limit <= result.list_max_limit:
            raise ValueError("list limits must satisfy 1 <= list_min_limit <= list_default_limit <= list_max_limit")
        return result

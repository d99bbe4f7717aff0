# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the tests of the access-key and verification-key cores against the emulator share (their fixtures are in
conftest.py): a session that "kills the run" at a write, and the verification-key helpers."""

from __future__ import annotations

import datetime
import os
from typing import Any, Dict, List, Optional

from ansible_collections.izuma.device_management.plugins.module_utils._verification_key import state
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key import converge as vk
from ansible_collections.izuma.device_management.plugins.module_utils._api import IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.options import Desired


class Killed(BaseException):
    """Stands for the process being killed: not an Exception, so nothing in the core catches it."""


class KillingSession:
    """Wraps a requests session and 'kills the run' at the Nth write request, before sending it or after its answer."""

    def __init__(self, inner: Any, nth_write: int, when: str) -> None:
        self.inner, self.nth_write, self.when, self.writes = inner, nth_write, when, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        if method != "GET":
            self.writes += 1
            if self.writes == self.nth_write and self.when == "before":
                raise Killed()
        response = self.inner.request(method, url, **kwargs)
        if method != "GET" and self.writes == self.nth_write and self.when == "after":
            raise Killed()
        return response


def kinds(result: Dict[str, Any]) -> List[str]:
    """The kinds of change in a result's plan."""
    return [entry["kind"] for entry in result["plan_details"]]


def snapshot(tmp_path: Any) -> Dict[str, bytes]:
    """Every file in ``tmp_path`` with its bytes."""
    return {name: (tmp_path / name).read_bytes() for name in sorted(os.listdir(tmp_path))}


# -- verification keys ---------------------------------------------------------------------------------------

def desired(tmp_path: Any, **options: Any) -> Desired:
    """A checked verification-key request named signing, its files in ``tmp_path``."""
    values: Dict[str, Any] = dict(name="signing", private_key_path=str(tmp_path / "signing.key"),
                                  certificate_path=str(tmp_path / "signing.crt"))
    values.update(options)
    want = Desired(**values)
    want.validate()
    return want


def run(client: IzumaClient, app: Dict[str, Any], want: Desired, check: bool = False,
        now: Optional[datetime.datetime] = None) -> Dict[str, Any]:
    """What the module returns (with its diff)."""
    return vk.converge(client, want, check_mode=check, diff=True, application_id=app["id"], now=now)


def remote(client: IzumaClient, app: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """The application's verification keys by name."""
    return {item["name"]: item for item in state.list_keys(client, app["id"])}

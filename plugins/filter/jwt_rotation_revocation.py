# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The decisions and the report of the jwt_rotation role's revocation (tasks/revoke.yml), as filters.

Internal to the role (documented in jwt_rotation_revocation.yml, jwt_rotation_revoke_outcome.yml and
jwt_rotation_revoke_summary.yml): names, arguments and results may change in any release; use playbooks/jwt_revoke.yml.

A revocation rotates an application's key now and deletes the previous one (the revoked key) in the same run. Before
it rotates, the role writes a small record, ``<jwt_rotation_key_dir>/<name>.revocation.json``, with the public key
fingerprint of the key it revokes (no secret); the record goes once that key is no longer uploaded. A run that finds a
record resumes that revocation: it rotates only while the current key is still the one being revoked, so a run killed
between the rotation and the deletion is finished without a second rotation, and one killed after the deletion does
not revoke the new key.
"""

from __future__ import annotations

import json
import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.izuma.device_management.plugins.filter.jwt_rotation_state import _get
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaKeyError
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import certificates as certs
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys


def _record(name: str, text: t.Optional[str]) -> t.Dict[str, t.Any]:
    """The revocation record of ``name`` (its file's text), or {} without one; a broken record is an error."""
    if not text:
        return {}
    try:
        record = json.loads(text)
    except ValueError:
        record = None
    if not isinstance(record, dict) or record.get("application") != name or not record.get("revoking_public_key_fingerprint"):
        raise AnsibleFilterError("The revocation record of %s (%s.revocation.json in jwt_rotation_key_dir) cannot be read; "
                                 "remove it to start a new revocation of the current key" % (name, name))
    return record


def jwt_rotation_revocation(applications: t.List[t.Dict[str, t.Any]], records: t.Dict[str, str],
                            certificates: t.Dict[str, str]) -> t.Dict[str, t.Dict[str, t.Any]]:
    """For each application to revoke: the public key fingerprint of the key it revokes, and whether to rotate now.

    ``records`` maps a name to the text of its revocation record (where one exists), ``certificates`` to the PEM of
    its current certificate file on the controller. Without a record the revoked key is the current one (a new
    revocation); with one, the recorded key, and the key is rotated only while the current key is still that one.
    """
    plan = {}
    for app in applications:
        name = app["name"]
        pem = certificates.get(name) or ""
        try:
            current = keys.public_key_fingerprint(certs.load_certificate(pem, source="the certificate of %s" % name)) if pem else ""
        except IzumaKeyError as error:
            raise AnsibleFilterError("Cannot revoke %s: %s" % (name, error)) from None
        record = _record(name, records.get(name))
        if not current and not record:
            raise AnsibleFilterError("Cannot revoke %s: it has no current key on the controller (no certificate file in "
                                     "jwt_rotation_key_dir), so there is no key of this role's to revoke" % name)
        revoking = record.get("revoking_public_key_fingerprint") or current
        plan[name] = {"revoking": revoking, "rotate": current == revoking, "resumed": bool(record),
                      "started_at": record.get("started_at", "")}
    return plan


def jwt_rotation_revoke_outcome(state: t.Dict[str, t.Dict[str, t.Any]], plan: t.Dict[str, t.Dict[str, t.Any]],
                                revocation: t.Dict[str, t.Dict[str, t.Any]],
                                deleted: t.List[t.Dict[str, t.Any]]) -> t.Dict[str, t.Dict[str, t.Any]]:
    """Each revoked application's outcome (for the report and ``set_stats``), by name; no secret.

    ``plan`` is the output of jwt_rotation_retirement (its ``waiting`` hosts: no token signed by the new key that the
    API accepted in this run), ``deleted`` the results of the deletion loop of izuma_verification_key.
    """
    outcome = {}
    for index, (name, app) in enumerate(state.items()):
        if name not in revocation:
            continue
        result = deleted[index] if index < len(deleted) else {}
        uploaded = [_get(item, "public_key_fingerprint", "") for item in _get(result, "verification_keys", [])]
        done = bool(result) and not _get(result, "skipped", False) and not _get(result, "failed", False)
        revoked = revocation[name]["revoking"]
        waiting = list(plan[name]["waiting"])
        outcome[name] = {
            "application_id": app["id"],
            "revoked_key_fingerprint": revoked,
            "revoked": done and revoked not in uploaded,
            "key": _get(result, "name", app["key_name"]),
            "key_fingerprint": _get(result, "public_key_fingerprint", app["fingerprint"]),
            "rotated": bool(app["rotated"]),
            "resumed": bool(revocation[name]["resumed"]),
            "hosts": len(app["hosts"]),
            "hosts_with_new_token": [host for host in app["hosts"] if host not in waiting],
            "hosts_without_new_token": waiting,
        }
    return outcome


def jwt_rotation_revoke_summary(outcome: t.Dict[str, t.Dict[str, t.Any]], check_mode: bool = False) -> t.List[str]:
    """One line per revoked application: the key revoked, the new key, and the hosts that lost access."""
    lines = []
    for name, item in outcome.items():
        how = "rotated now" if item["rotated"] else ("rotated by an earlier, interrupted run" if item["resumed"] else "not rotated")
        if check_mode:
            revoked = "would be DELETED from the API (check mode: nothing was changed)"
        elif item["revoked"]:
            revoked = "DELETED from the API"
        else:
            revoked = "STILL UPLOADED: run playbooks/jwt_revoke.yml again with the same variables"
        waiting = item["hosts_without_new_token"]
        if waiting:
            hosts = ("%d of %d host(s) did NOT get a token signed by the new key and have no access until they do: %s"
                     % (len(waiting), item["hosts"], ", ".join(waiting)))
        else:
            hosts = "all %d host(s) hold a token signed by the new key that the API accepted" % item["hosts"]
        lines.append("%s: revoked key (public key %s...) %s; new key %s (public key %s...), %s; %s."
                     % (name, item["revoked_key_fingerprint"][:16], revoked, item["key"], (item["key_fingerprint"] or "")[:16],
                        how, hosts))
    return lines


class FilterModule:
    """The jwt_rotation role's revocation filters."""

    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        """Map filter names to functions."""
        return {
            "jwt_rotation_revocation": jwt_rotation_revocation,
            "jwt_rotation_revoke_outcome": jwt_rotation_revoke_outcome,
            "jwt_rotation_revoke_summary": jwt_rotation_revoke_summary,
        }

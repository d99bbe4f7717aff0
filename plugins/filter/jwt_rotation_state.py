# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The decisions of the jwt_rotation role, as filters (documented in jwt_rotation_*.yml).

Internal to the role: not part of the collection's public interface (which has the jwt_claims and jwt_seconds_left
filters), so their names, arguments and results may change in any release; playbooks use the role.

The role runs one module per application on the controller and one izuma_jwt task per host; everything it decides
in between (each application's state after phase 1, the applications of a host, which hosts still wait for a
verified token, whether the previous key may go now or only after the grace period, the report) is computed here on
the controller from those results, instead of in Jinja state machines or per-host ``set_fact`` tasks.

No token or key material passes through these filters: they read fingerprints, flags and host names only.
"""

from __future__ import annotations

import json
import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.izuma.device_management.plugins.module_utils._api_config import ID_PATTERN

# The variable each host registers with the results of its izuma_jwt task (one result per application).
TOKEN_RESULTS_VAR = "_jwt_rotation_tokens"


def _get(mapping: t.Any, name: str, default: t.Any = None) -> t.Any:
    """``mapping[name]`` for a dict or Ansible's lazy host variables; ``default`` when absent."""
    try:
        value = mapping[name]
    except (KeyError, TypeError, IndexError):
        return default
    return default if value is None else value


def jwt_rotation_ids(applications: t.List[t.Dict[str, t.Any]], saved: t.Dict[str, str],
                     api_host: str) -> t.Dict[str, t.Dict[str, str]]:
    """The application ids known before any request, by name: ``{"id": ..., "source": "given" or "remembered"}``.

    An entry's own ``id`` is given; otherwise ``saved`` holds the text of the application's state file (written by
    an earlier run, see ``jwt_rotation_id_record``), which counts only when it names this application on this API.
    A file that cannot be read as such is ignored (the application is then found by name, and the file rewritten).
    """
    known = {}
    for app in applications:
        name = app["name"]
        if app.get("id"):
            known[name] = {"id": str(app["id"]), "source": "given"}
            continue
        try:
            record = json.loads(saved.get(name) or "null")
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("name") == name and _same_host(record.get("api_host"), api_host) \
                and ID_PATTERN.match(str(record.get("id", ""))):
            known[name] = {"id": record["id"], "source": "remembered"}
    return known


def jwt_rotation_id_record(name: str, application_id: str, api_host: str) -> str:
    """The text of an application's state file: its name, id and API host (no secret), as JSON."""
    return json.dumps({"name": name, "id": application_id, "api_host": _normal_host(api_host)}, indent=2, sort_keys=True) + "\n"


def _normal_host(api_host: t.Any) -> str:
    return str(api_host or "").rstrip("/")


def _same_host(saved: t.Any, api_host: t.Any) -> bool:
    return _normal_host(saved) == _normal_host(api_host)


def _last_run(first: t.List[t.Dict[str, t.Any]], later: t.Optional[t.List[t.Dict[str, t.Any]]]) -> t.List[t.Dict[str, t.Any]]:
    """Per application, the result of the later loop where that item ran (was not skipped), else the first's."""
    if not later:
        return list(first)
    if len(later) != len(first):
        raise AnsibleFilterError("jwt_rotation_state: a later loop must have one result per application")
    return [again if again and not _get(again, "skipped", False) else result for result, again in zip(first, later)]


def _given_key(app: t.Dict[str, t.Any], key_dir: str, keys: t.Optional[t.Dict[str, t.Dict[str, str]]]) -> t.Dict[str, str]:
    """The name and files the key module was given for ``app``: from ``keys`` (the role's, in its vars/main.yml).

    Without ``keys`` (a caller of the filter before it had that option): the entry's ``key_name`` or
    ``<name>-signing``, and ``<key_dir>/<name>.key``, what the role gives the module; no certificate path.
    """
    if keys is not None:
        return dict(keys.get(app["name"]) or {})
    return {"name": app.get("key_name") or app["name"] + "-signing", "private_key_path": "%s/%s.key" % (key_dir, app["name"])}


def jwt_rotation_state(applications: t.List[t.Dict[str, t.Any]], app_results: t.List[t.Dict[str, t.Any]],
                       key_results: t.List[t.Dict[str, t.Any]], hosts: t.Dict[str, t.List[str]],
                       key_dir: str, grace_period: int, check_mode: bool = False,
                       later_app_results: t.Optional[t.List[t.Dict[str, t.Any]]] = None,
                       later_key_results: t.Optional[t.List[t.Dict[str, t.Any]]] = None,
                       keys: t.Optional[t.Dict[str, t.Dict[str, str]]] = None) -> t.Dict[str, t.Dict[str, t.Any]]:
    """Each application's state after phase 1, by name: id, key, rotation flags, hosts; no key material.

    ``app_results`` and ``key_results`` are the loop results of izuma_application and izuma_verification_key, in the
    order of ``applications``; ``hosts`` maps each application to the inventory hosts its ``hosts`` patterns match.
    The role skips izuma_application where it knows the id already; ``later_app_results`` and ``later_key_results``
    are the results of the loops it runs again for some applications (a changed key, a remembered id that is gone):
    where an item ran again, that result counts. The key's name and files are the ones the key module returned; where
    it returned none (it did not run), the ones it was given (``keys``, see ``_given_key``).
    """
    if len(app_results) != len(applications) or len(key_results) != len(applications):
        raise AnsibleFilterError("jwt_rotation_state: expected one application result and one key result per application")
    changed = [bool(_get(first, "changed", False)) or bool(_get(again, "changed", False))
               for first, again in zip(app_results, later_app_results or [{}] * len(app_results))]
    state = {}
    runs = zip(applications, _last_run(app_results, later_app_results), _last_run(key_results, later_key_results), changed)
    for app, app_result, key, app_changed in runs:
        application = _get(app_result, "application", {})
        current = _get(key, "verification_key", {})
        rotated = bool(_get(key, "rotated", False))
        # Where izuma_application did not run, the id is the one the key module worked with.
        application_id = _get(application, "id", "") or ("" if _get(key, "failed", False) else _get(key, "application_id", ""))
        given = _given_key(app, key_dir, keys)
        state[app["name"]] = {
            "id": application_id,
            "key_name": _get(key, "name", given.get("name", "")),
            "key_path": _get(key, "private_key_path", given.get("private_key_path", "")),
            "certificate_path": _get(key, "certificate_path", given.get("certificate_path", "")),
            # key_backend=pkcs11: the label of the current key's object in the token (no secret).
            "pkcs11_key_label": _get(key, "pkcs11_key_label", ""),
            "application_changed": app_changed,
            "key_changed": bool(_get(key, "changed", False)),
            "fingerprint": _get(key, "public_key_fingerprint", ""),
            "expires_at": _get(key, "expires_at", ""),
            "created_at": _get(current, "created_at", ""),
            "rotated": rotated,
            # The key was uploaded for the first time by this run (or would be, in check mode).
            "created": not rotated and any(_get(step, "kind", "") == "UploadKey" for step in _get(key, "plan_details", [])),
            "rotation_reason": _get(key, "rotation_reason", ""),
            "rotation_under_way": bool(_get(key, "rotation_under_way", False)),
            "renewed": bool(_get(key, "renewed", False)),
            "previous": bool(_get(key, "previous_verification_key", {})),
            "previous_file": bool(_get(key, "previous_private_key_path", "")),
            "grace_period": int(app.get("grace_period", grace_period) if app.get("grace_period") is not None else grace_period),
            # In check mode an application or key still to be made has no key to sign with yet.
            "pending": bool(check_mode) and (not application_id or rotated or not _get(current, "id", "")),
            "hosts": list(hosts.get(app["name"], [])),
        }
    return state


def jwt_rotation_host_applications(applications: t.List[t.Dict[str, t.Any]], state: t.Dict[str, t.Dict[str, t.Any]],
                                   host: str) -> t.List[t.Dict[str, t.Any]]:
    """The applications whose hosts include ``host``, in the order given."""
    return [app for app in applications if host in _get(state.get(app["name"], {}), "hosts", [])]


def jwt_rotation_lifetimes(applications: t.List[t.Dict[str, t.Any]], grace_period: int, token_lifetime: int) -> t.List[str]:
    """The refusals of applications whose grace period is shorter than their token lifetime (empty when all are fine).

    A slice of a split job (``--limit``, serial batches, AWX job slicing) cannot see the hosts of other slices: it may
    retire a previous key only once every token signed by it has expired, i.e. a token lifetime after the rotation.
    """
    problems = []
    for app in applications:
        grace = app.get("grace_period") if app.get("grace_period") is not None else grace_period
        lifetime = app.get("token_lifetime") if app.get("token_lifetime") is not None else token_lifetime
        if int(grace) < int(lifetime):
            problems.append("%s: grace_period %d s is shorter than token_lifetime %d s; set grace_period (or "
                            "jwt_rotation_grace_period) to at least %d" % (app["name"], int(grace), int(lifetime), int(lifetime)))
    return problems


def _host_record(hostvars: t.Any, host: str, name: str) -> t.Dict[str, t.Any]:
    """The izuma_jwt result of ``host`` for application ``name`` ({} when the host did not run it)."""
    for result in _get(_get(_get(hostvars, host, {}), TOKEN_RESULTS_VAR, {}), "results", []):
        if _get(_get(result, "item", {}), "name") == name:
            return result
    return {}


def jwt_rotation_to_verify(state: t.Dict[str, t.Dict[str, t.Any]], hostvars: t.Any, hosts: t.List[str],
                           unchanged: bool = False) -> t.List[t.Dict[str, t.Any]]:
    """The tokens to verify from the hosts themselves: new ones, and all while a rotation is under way (or ``unchanged``).

    Each item holds the token (from izuma_jwt's ``return_token``): use it only in a ``no_log`` task.
    """
    items = []
    for name, app in state.items():
        for host in app["hosts"]:
            if host not in hosts:
                continue
            record = _host_record(hostvars, host, name)
            token = _get(record, "token", "")
            if token and not _get(record, "failed", False) and (_get(record, "renewed", False) or app["previous"]
                                                                or app["rotated"] or unchanged):
                items.append({"host": host, "application": name, "application_id": app["id"], "token": token})
    return items


def jwt_rotation_retirement(state: t.Dict[str, t.Dict[str, t.Any]], hostvars: t.Any, verify: bool = True,
                            early: bool = True, host_calls: t.Optional[t.List[t.Dict[str, t.Any]]] = None) -> t.Dict[str, t.Dict[str, t.Any]]:
    """For each application: the hosts still waiting, the token counts, and what to do with the previous key.

    A host is ready when this run (any serial batch of it) left it with a token signed by the current key, verified
    by the API when ``verify``. ``retire`` is ``now`` when every host of the application (in the inventory, not only
    in this run) is ready and ``early`` is allowed, ``auto`` (retire once the grace period has passed) when some are
    not, and ``None`` when there is no previous key or nothing is known yet (check mode before the key exists).
    With ``host_calls`` (the results of the verification from the hosts), a token counts as verified by its call.
    """
    from_hosts = {}  # type: t.Dict[t.Tuple[str, str], bool]
    for call in host_calls or []:
        item = _get(call, "item", {})
        if item and not _get(call, "skipped", False):
            from_hosts[(_get(item, "host"), _get(item, "application"))] = _get(call, "status", -1) == 200
    plan = {}
    for name, app in state.items():
        waiting, unchecked, reissued, kept, verified, refused = [], [], 0, 0, 0, 0
        for host in app["hosts"]:
            record = _host_record(hostvars, host, name)
            signed = bool(record) and not _get(record, "failed", False) and not _get(record, "skipped", False) \
                and _get(record, "key_fingerprint", "") == app["fingerprint"] != ""
            reissued += 1 if signed and _get(record, "renewed", False) else 0
            kept += 1 if signed and not _get(record, "renewed", False) else 0
            accepted = from_hosts[(host, name)] if (host, name) in from_hosts else _get(record, "verified", None)
            verified += 1 if accepted is True else 0
            refused += 1 if accepted is False else 0
            if not signed or (verify and accepted is not True):
                waiting.append(host)
            if signed and verify and accepted is None:
                unchecked.append(host)
        has_previous = app["previous"] or app["previous_file"]
        if not has_previous or app["pending"] or not app["fingerprint"]:
            retire = None
        elif not waiting and early and verify:
            retire = "now"
        else:
            retire = "auto"
        plan[name] = {"waiting": waiting, "unchecked": unchecked, "retire": retire, "reissued": reissued, "kept": kept, "verified": verified,
                      "refused": refused}
    return plan


def _previous_after(app: t.Dict[str, t.Any], result: t.Dict[str, t.Any]) -> t.Tuple[bool, bool]:
    """Whether the retirement task ran for ``app`` (its loop ``result``), and whether a previous key is still uploaded."""
    done = bool(result) and not _get(result, "skipped", False)
    return done, bool(_get(result, "previous_verification_key", {})) if done else bool(app["previous"])


def jwt_rotation_outcome(state: t.Dict[str, t.Dict[str, t.Any]], plan: t.Dict[str, t.Dict[str, t.Any]],
                         retired: t.List[t.Dict[str, t.Any]], rotated_before: t.Optional[t.List[str]] = None,
                         retired_before: t.Optional[t.List[str]] = None, check_mode: bool = False) -> t.Dict[str, t.Dict[str, t.Any]]:
    """Each application's outcome for ``set_stats`` (AWX artifacts), by name: key, rotated, retired, hosts; no secret.

    ``rotated_before`` and ``retired_before`` name the applications an earlier serial batch of the run rotated or
    retired: each batch's outcome then describes the whole run so far, and the last batch's is the run's.
    """
    outcome = {}
    for index, (name, app) in enumerate(state.items()):
        result = retired[index] if index < len(retired) else {}
        done, still = _previous_after(app, result)
        waiting, unchecked = plan[name]["waiting"], plan[name].get("unchecked", [])
        outcome[name] = {
            "application_id": app["id"],
            "key": app["key_name"],
            "key_fingerprint": app["fingerprint"],
            "key_expires_at": app["expires_at"],
            "rotated": bool(app["rotated"]) or name in (rotated_before or []),
            "retired": (done and bool(_get(result, "changed", False))) or name in (retired_before or []),
            "previous_key_uploaded": still,
            "hosts": len(app["hosts"]),
            "hosts_verified": [host for host in app["hosts"] if host not in waiting],
            "hosts_not_verified": [host for host in waiting if host not in unchecked],
            "hosts_unchecked": list(unchecked),
            "tokens_issued": plan[name]["reissued"],
            "tokens_refused": plan[name]["refused"],
            "check_mode": bool(check_mode),
        }
    return outcome


def jwt_rotation_summary(state: t.Dict[str, t.Dict[str, t.Any]], plan: t.Dict[str, t.Dict[str, t.Any]],
                         retired: t.List[t.Dict[str, t.Any]], check_mode: bool = False, retire: bool = True) -> t.List[str]:
    """One line per application: its key, the rotation, its hosts' tokens, and what became of the previous key."""
    lines = []
    for index, (name, app) in enumerate(state.items()):
        result = retired[index] if index < len(retired) else {}
        done, still = _previous_after(app, result)
        would = "would be " if check_mode else ""
        if app["fingerprint"]:
            key_line = "key %s (public key %s..., expires %s)" % (app["key_name"], app["fingerprint"][:16], app["expires_at"])
        else:
            key_line = "key %s (to be created%s)" % (app["key_name"], "" if app["id"] else ", with the application")
        if app["rotated"]:
            rotation = "rotated%s: %s" % (" (would be, check mode)" if check_mode else "", app["rotation_reason"] or "new key")
        elif app.get("created"):
            rotation = "created%s" % (" (would be, check mode)" if check_mode else "")
        elif app["previous"]:
            rotation = "finishing the rotation under way"
        else:
            rotation = "no rotation due"
        waiting = plan[name]["waiting"]
        if done and _get(result, "changed", False):
            previous = "previous key %sretired%s" % (would, " (every host verified)" if plan[name]["retire"] == "now"
                                                     else " (grace period over)")
        elif app["pending"] and app["rotated"]:
            previous = ("the current key would become the previous key and stay uploaded until every host holds a verified "
                        "token signed by the new key")
        elif still and not retire:
            previous = "previous key kept (jwt_rotation_retire is false)"
        elif still and waiting:
            previous = ("previous key kept until the grace period (%d s after %s) has passed, or until a run verifies every "
                        "host: %d host(s) not verified in this run (%s%s)"
                        % (app["grace_period"], app["created_at"], len(waiting), ", ".join(waiting[:5]),
                           ", ..." if len(waiting) > 5 else ""))
        elif still:
            previous = "previous key kept until the grace period (%d s after %s) has passed" % (app["grace_period"], app["created_at"])
        else:
            previous = "no previous key"
        if app["pending"]:
            tokens = "a token signed by the new key would be issued to each"
        else:
            tokens = "%d token(s) %sissued, %d kept, %d verified by the API%s" % (
                plan[name]["reissued"], would, plan[name].get("kept", 0), plan[name]["verified"],
                ", %d REFUSED" % plan[name]["refused"] if plan[name]["refused"] else "")
        lines.append("%s: %s; %s; %d host(s): %s; %s." % (name, key_line, rotation, len(app["hosts"]), tokens, previous))
    return lines


class FilterModule:
    """The jwt_rotation role's filters."""

    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        """Map filter names to functions."""
        return {
            "jwt_rotation_state": jwt_rotation_state,
            "jwt_rotation_ids": jwt_rotation_ids,
            "jwt_rotation_id_record": jwt_rotation_id_record,
            "jwt_rotation_host_applications": jwt_rotation_host_applications,
            "jwt_rotation_lifetimes": jwt_rotation_lifetimes,
            "jwt_rotation_retirement": jwt_rotation_retirement,
            "jwt_rotation_to_verify": jwt_rotation_to_verify,
            "jwt_rotation_summary": jwt_rotation_summary,
            "jwt_rotation_outcome": jwt_rotation_outcome,
        }

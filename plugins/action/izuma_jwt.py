# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller side of izuma_jwt: sign on the controller, deploy through the connection or the module.

For each host:

1. observe - validate the task (with the module's own argument spec,
   module_utils ``_jwt_options``), load the signing key (parsed once per
   process by the key source, module_utils ``_key_source``; a key in a
   PKCS#11 token signs there, after one login per process) and check every
   signing option, before any host is contacted; then read the deployed
   token, its mode, owner and group through the connection with one shell
   command (plugin_utils ``_deployed_token``: no module, no Python on the
   host), or, where that cannot give the exact answer, run the module with
   ``_operation=inspect``;
2. plan - ``_token_status.renewal_status`` on the controller: the token must verify
   with the current key and match the requested algorithm, claims, headers
   and lifetime, and be valid for longer than renew_margin;
3. apply - only when the plan says so: sign a new token and write it through
   the connection with one shell command, the token on its standard input
   (plugin_utils ``_token_write``: where the read went through the connection,
   the directory exists, no unsafe_writes, no become password), or else run the
   module with ``_operation=write`` (atomic 0600 write), which also takes over
   when the shell command reports that it cannot apply (nothing written); run
   the module with ``_operation=attributes`` when only owner, group or mode
   differ.

With ``verify``, one request from the controller then proves the token the
host holds (``_deployed_token.verify_token``); a refusal fails the host.

A converged host costs no module run and writes nothing, a host that needs a
new token none where it is written through the connection, one where the
module writes. Check mode stops
after the plan and signs nothing.

No token, key or passphrase reaches the result, a warning or a message: the
inspected token is popped from the module's answer at once, results are built
from decoded claims, and every message from a module is scrubbed of anything
that looks like a JWT.
"""

from __future__ import annotations

import re
import time
import typing as t

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase

from ansible_collections.izuma.device_management.plugins.module_utils._jwt import key_source
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import signing as tokens
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import options as pkcs11_options
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import status as token_status
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaError
from ansible_collections.izuma.device_management.plugins.module_utils._jwt.options import (
    HOST_OPTIONS,
    INTERNAL_OPTIONS,
    MUTUALLY_EXCLUSIVE,
    renew_margin,
    task_argument_spec,
)
from ansible_collections.izuma.device_management.plugins.module_utils._api_config import ID_PATTERN
from ansible_collections.izuma.device_management.plugins.module_utils import _times as times
from ansible_collections.izuma.device_management.plugins.plugin_utils import _deployed_token as deployed_token, _jwt_plugin as jwt_plugin
from ansible_collections.izuma.device_management.plugins.plugin_utils import _token_write as token_write

MODULE_NAME = "izuma.device_management.izuma_jwt"
# A compact JWS whose header is a JSON object: base64url of '{"' is 'eyJ'.
_JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
# How check mode shows a jti that will be random.
RANDOM_PLACEHOLDER = "<random>"


def scrub(text: t.Any, *secrets: t.Optional[str]) -> str:
    """Return ``text`` with every JWT-shaped string and every given secret replaced by a placeholder."""
    result = _JWT_RE.sub("<token>", str(text))
    for secret in secrets:
        if secret:
            result = result.replace(secret, "<secret>")
    return result


def validate_task_args(args: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """Validate task arguments with the module's argument spec; raise IzumaError with a message free of secret values."""
    internal = sorted(name for name in INTERNAL_OPTIONS if name in args)
    if internal:
        raise IzumaError("%s: internal option(s) set by the action plugin; remove them from the task" % ", ".join(internal))
    validator = ArgumentSpecValidator(task_argument_spec(), mutually_exclusive=MUTUALLY_EXCLUSIVE)
    result = validator.validate(dict(args))
    if result.error_messages:
        # A type error can quote the value given; no_log values must not be quoted.
        raise IzumaError(str(remove_values(result.errors.msg, result._no_log_values)))  # pylint: disable=protected-access
    return dict(result.validated_parameters)


def token_facts(claims: t.Mapping[str, t.Any], header: t.Mapping[str, t.Any], now: float) -> t.Dict[str, t.Any]:
    """The non-secret description of a token: claims, header, iat/exp as RFC 3339, seconds left."""
    facts = {"claims": dict(claims), "header": dict(header), "algorithm": header.get("alg"),
             "issued_at": None, "expires_at": None, "seconds_left": None}  # type: t.Dict[str, t.Any]
    if isinstance(claims.get("iat"), (int, float)) and not isinstance(claims.get("iat"), bool):
        facts["issued_at"] = times.to_rfc3339(claims["iat"])
    if isinstance(claims.get("exp"), (int, float)) and not isinstance(claims.get("exp"), bool):
        facts["expires_at"] = times.to_rfc3339(claims["exp"])
        facts["seconds_left"] = token_status.seconds_left(dict(claims), now=now)
    return facts


def predicted_token(request: t.Mapping[str, t.Any], options: t.Mapping[str, t.Any]) -> t.Tuple[t.Dict[str, t.Any], t.Dict[str, t.Any]]:
    """The claims and header a token signed for ``request`` (from tokens.signing_request) would have."""
    claims = dict(request["claims"])
    if options.get("jwt_id") is True:
        # signing_request drew a random jti that the real token will not have.
        claims["jti"] = RANDOM_PLACEHOLDER
    header = {"alg": request["algorithm"], "typ": "JWT"}
    header.update(request["headers"])
    return claims, header


def plan(status: t.Mapping[str, t.Any], attributes_differ: bool, force: bool) -> t.Dict[str, t.Any]:
    """Decide what to do with a deployed token: ``{"renew": bool, "attributes": bool, "reason": str}``."""
    if force:
        return {"renew": True, "attributes": False, "reason": "force is true" + ("" if status["needs_renewal"] else "; " + status["reason"])}
    if status["needs_renewal"]:
        return {"renew": True, "attributes": False, "reason": status["reason"]}
    return {"renew": False, "attributes": bool(attributes_differ), "reason": status["reason"]}


def diff_side(facts: t.Optional[t.Mapping[str, t.Any]], fingerprint: t.Optional[str], signed_by_current_key: t.Optional[bool],
              attributes: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """One side of the diff: what a person needs to see, never the token."""
    side = {}  # type: t.Dict[str, t.Any]
    if facts is not None:
        side.update(claims=facts["claims"], header=facts["header"], expires_at=facts["expires_at"],
                    signing_key_fingerprint=fingerprint, signed_by_current_key=signed_by_current_key)
    side.update({name: attributes[name] for name in ("mode", "owner", "group") if attributes.get(name) is not None})
    return side


class ActionModule(ActionBase):
    """Sign on the controller, inspect and write on the host."""

    TRANSFERS_FILES = False
    # Module executions for the current task (returned as module_runs).
    _module_runs = 0
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp: t.Optional[str] = None, task_vars: t.Optional[t.Dict[str, t.Any]] = None) -> t.Dict[str, t.Any]:
        """Run the task for one host."""
        result = super().run(tmp, task_vars)
        del tmp
        try:
            result.update(self._run(task_vars or {}))
        except IzumaError as exc:
            result.update(failed=True, changed=False, msg=scrub(exc))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _module(self, task_vars: t.Dict[str, t.Any], params: t.Mapping[str, t.Any], operation: str,
                token: t.Optional[str] = None, expected: t.Optional[str] = None) -> t.Dict[str, t.Any]:
        """Run the host side; return its answer, or raise IzumaError with a scrubbed message."""
        # The validated values (defaults and aliases applied), but dest as given: the host expands it itself (its ~ is
        # not the controller's), and unsafe_writes only when given, so that its fallback reads the host's environment.
        args = {name: params[name] for name in HOST_OPTIONS if params.get(name) is not None}
        args["dest"] = self._task.args["dest"]
        if "unsafe_writes" not in self._task.args:
            args.pop("unsafe_writes", None)
        args["_operation"] = operation
        if token is not None:
            args["_token"] = token
        if expected is not None:
            args["_expected"] = expected
        self._module_runs += 1
        answer = self._execute_module(module_name=MODULE_NAME, module_args=args, task_vars=task_vars)
        if answer.get("failed") or answer.get("unreachable"):
            # Only the message: raw output (module_stdout) could hold the token read by inspect.
            message = answer.get("msg") or "the izuma_jwt module failed on the host without a message"
            raise IzumaError(scrub(message, token))
        return answer

    def _write(self, task_vars: t.Dict[str, t.Any], params: t.Mapping[str, t.Any], token: str,
               observed: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
        """Write a new token: through the connection where that applies (plugin_utils ``_token_write``), else by the module.

        The module also runs when the shell command reports that it cannot apply (a missing tool, SELinux, a failed
        step before the rename: nothing was written), never when the command's outcome is unknown.
        """
        dest = str(self._task.args["dest"])
        become = getattr(self._connection, "become", None)
        prompt = bool(become is not None and become.expect_prompt())
        if token_write.write_applies(observed, dest, "unsafe_writes" in self._task.args, prompt):
            command = token_write.write_command(dest, token_write.numeric_mode(params["mode"]), params.get("owner"), params.get("group"),
                                                observed["content_sha256"], params["lock_timeout"])
            answer = self._low_level_execute_command(command, in_data=(token.strip() + "\n").encode("ascii"), sudoable=True,
                                                     encoding_errors="surrogateescape")
            done = token_write.parse_write(answer.get("stdout", ""))
            if done["outcome"] == "written":
                written = {"changed": True, "mode": done["mode"], "owner": done["owner"], "group": done["group"]}
                warning = token_write.open_mode_warning(done["mode"], dest)
                if warning:
                    written["warnings"] = [warning]
                return written
            if done["outcome"] == "superseded":
                return {"superseded": True}
            if done["outcome"] == "locked":
                seconds = params["lock_timeout"]
                raise IzumaError(token_write.LOCKED_MESSAGE % (dest, dest + ".lock", seconds, seconds))
            if done["outcome"] is None:
                raise IzumaError(scrub("cannot write %s through the connection (exit status %s): %s"
                                       % (dest, answer.get("rc"), str(answer.get("stderr", "")).strip() or "no output"), token))
        return self._module(task_vars, params, "write", token, expected=observed.get("content_sha256"))

    def _observe(self, task_vars: t.Dict[str, t.Any], params: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
        """The deployed token and its attributes: read through the connection where exact, else by the module."""
        dest = str(self._task.args["dest"])
        other = [name for name in deployed_token.UNREADABLE_FILE_OPTIONS if params.get(name) is not None]
        shell = getattr(getattr(self._connection, "_shell", None), "SHELL_FAMILY", "")
        if deployed_token.can_read(dest, shell, params["mode"], other):
            answer = self._low_level_execute_command(deployed_token.read_command(dest), sudoable=True,
                                                     encoding_errors="surrogateescape")
            observed = deployed_token.parse_read(answer.get("stdout", ""), params["directory_mode"] is not None) \
                if answer.get("rc") == 0 else None
            if observed is not None:
                observed["attributes_differ"] = deployed_token.attributes_differ(observed, params.get("owner"), params.get("group"),
                                                                                 params["mode"])
                observed["read"] = "shell"
                return observed
        return self._module(task_vars, params, "inspect")

    def _verify(self, params: t.Mapping[str, t.Any], result: t.Dict[str, t.Any], held: t.Optional[str]) -> None:
        """With verify: one request with the token the host holds; a refusal fails the host (``verified: false``)."""
        result["verified"] = None
        if held is None:
            return
        try:
            deployed_token.verify_token(held, params["application_id"], params.get)
        except IzumaError as exc:
            result.update(failed=True, verified=False, msg=scrub("%s: %s" % (params["dest"], exc), held))
        else:
            result["verified"] = True

    def _run(self, task_vars: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
        self._module_runs = 0
        params = validate_task_args(self._task.args)
        if params["verify"] and not ID_PATTERN.match(params["application_id"] or ""):
            raise IzumaError("verify needs application_id, the id (32 lowercase hex characters) of the application whose key "
                             "signs the token; got %r" % (params["application_id"],))
        result = self._deploy(task_vars, params)
        held = result.pop("_held", None)
        if params["verify"]:
            self._verify(params, result, held)
        result["module_runs"] = self._module_runs
        return result

    def _deploy(self, task_vars: t.Dict[str, t.Any], params: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
        """Load the key, check the options, then converge the host (again when another run wrote dest meanwhile)."""
        params["renew_margin"] = renew_margin(params["lifetime"], params["renew_margin"])
        if params["renew_margin"] < 0 or params["lifetime"] <= 0 or params["renew_margin"] >= params["lifetime"]:
            raise IzumaError("renew_margin (%d seconds) must be zero or more and shorter than lifetime (%d seconds), or every run "
                             "would issue a new token" % (params["renew_margin"], params["lifetime"]))
        key_path = jwt_plugin.resolve_key_path(params["private_key_path"], task_vars, self._loader)
        # A key in a PKCS#11 token when pkcs11_key_label is given: logged in once per process, before any host is
        # contacted, so that a wrong PIN fails the task with nothing written.
        key = key_source.load_signing_key(key_path, params["private_key_content"], params["private_key_passphrase"],
                                          pkcs11=pkcs11_options.pkcs11_source(params))
        options = jwt_plugin.sign_options(params.get)
        # Refuse bad options (algorithm, lifetime, reserved claims and headers) before any host is contacted.
        tokens.signing_request(key, **options)
        for _attempt in range(2):
            result = self._converge(task_vars, params, key, options)
            if not result.get("superseded"):
                return result
            # Another run wrote dest between this run's inspect and write (it held the lock): look at what it wrote.
        raise IzumaError("another run replaced %s twice while this one was deciding: run the task again" % params["dest"])

    def _converge(self, task_vars: t.Dict[str, t.Any], params: t.Dict[str, t.Any], key: t.Any,
                  options: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
        """Observe, plan and apply for the host once; ``{"superseded": True}`` when another run wrote dest meanwhile."""
        now = time.time()
        observed = self._observe(task_vars, params)
        deployed = observed.pop("token", None)
        status = token_status.renewal_status(deployed, key, renew_margin=params["renew_margin"], now=now, **options)
        decision = plan(status, observed.get("attributes_differ", False), params["force"])
        before = {"facts": None, "attributes": {name: observed.get(name) for name in ("mode", "owner", "group")}}
        if status["claims"] is not None:
            before["facts"] = token_facts(status["claims"], status["header"] or {}, now)
        after = self._apply(task_vars, params, key, options, now, decision, before, observed)
        if after.get("superseded"):
            return {"superseded": True}
        result = report(params, keys.public_key_fingerprint(key), status, decision, before, after, self._task.check_mode, self._task.diff)
        if after["answer"].get("warnings"):
            result["warnings"] = [scrub(warning, after["token"], deployed) for warning in after["answer"]["warnings"]]
        # The token the host holds now, for verify (none in check mode when it would be replaced).
        result["_held"] = after["token"] if decision["renew"] else (deployed if params["verify_kept"] else None)
        if params["return_token"]:
            result["token"] = after["token"] if decision["renew"] else deployed
        return result

    def _apply(self, task_vars: t.Dict[str, t.Any], params: t.Dict[str, t.Any], key: t.Any, options: t.Dict[str, t.Any], now: float,
               decision: t.Mapping[str, t.Any], before: t.Mapping[str, t.Any], observed: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
        """Do what the plan says: ``{"token", "facts", "answer", "changed"}`` (``{"superseded": True}`` when overtaken)."""
        if not decision["renew"]:
            answer = {}  # type: t.Dict[str, t.Any]
            changed = decision["attributes"]
            if changed and not self._task.check_mode:
                answer = self._module(task_vars, params, "attributes")
                changed = bool(answer.get("changed"))
            return {"token": None, "facts": before["facts"], "answer": answer, "changed": changed}
        if self._task.check_mode:
            claims, header = predicted_token(tokens.signing_request(key, now=now, **options), options)
            return {"token": None, "facts": token_facts(claims, header, now), "answer": {}, "changed": True}
        new_token = tokens.sign_token(key, now=now, **options)
        decoded = token_status.decode_unverified(new_token)
        answer = self._write(task_vars, params, new_token, observed)
        if answer.get("superseded"):
            return {"superseded": True}
        return {"token": new_token, "facts": token_facts(decoded["claims"], decoded["header"], now), "answer": answer, "changed": True}


def report(params: t.Mapping[str, t.Any], fingerprint: str, status: t.Mapping[str, t.Any], decision: t.Mapping[str, t.Any],
           before: t.Mapping[str, t.Any], after: t.Mapping[str, t.Any], check_mode: bool, diff: bool) -> t.Dict[str, t.Any]:
    """The task result (and diff) from what was observed and done: facts, attributes, never a token."""
    attributes = dict(before["attributes"])
    attributes.update({name: after["answer"][name] for name in ("mode", "owner", "group") if name in after["answer"]})
    if check_mode and after["changed"]:
        # What the task would set; not knowable exactly for a symbolic mode, so shown as given.
        attributes.update({name: str(params[name]) for name in ("mode", "owner", "group") if params.get(name) is not None})
    result = {"dest": params["dest"], "renewed": decision["renew"], "reason": decision["reason"],
              "key_fingerprint": fingerprint}  # type: t.Dict[str, t.Any]
    result.update(t.cast(t.Dict[str, t.Any], after["facts"]))
    result.update({name: attributes.get(name) for name in ("mode", "owner", "group")})
    result["changed"] = after["changed"]
    if diff:
        result["diff"] = {
            "before_header": params["dest"],
            "after_header": params["dest"],
            "before": diff_side(before["facts"], fingerprint if status["signed_by_key"] else None, status["signed_by_key"],
                                before["attributes"]),
            "after": diff_side(after["facts"], fingerprint, True, attributes),
        }
    return result

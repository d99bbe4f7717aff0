#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: izuma_jwt
short_description: Sign a JWT for Izuma Device Management on the controller and deploy it to managed hosts
version_added: 1.0.0
description:
  - Steps 4 and 5 of the Izuma Device Management JWT setup ("create the JWT key", "deploy the JWT key"). Signs a JSON Web
    Token with the private key of an application's verification key and writes it to O(dest) on each managed host.
  - Signing happens on the controller, in the action plugin; the private key is never sent to the managed hosts. Only
    the signed token travels, and it is written atomically with mode 0600 from the first instant (see O(mode)).
  - "Idempotent: a token already deployed is kept while it verifies with the current signing key, is valid for longer
    than O(renew_margin), and carries the requested claims, headers, algorithm and lifetime. Otherwise a new token is
    issued. A scheduled run therefore re-issues tokens only when needed, and a new key at O(private_key_path) or
    under O(pkcs11_key_label) (a key rotation) re-issues every token."
  - "The private key is a PEM file or content on the controller, or a key inside a PKCS#11 token (a hardware security
    module, a cloud key service's PKCS#11 library, SoftHSM2) named by O(pkcs11_key_label) - the token signs, the key
    never leaves it, and the PKCS#11 options and the PIN are used on the controller only, never sent to the hosts."
  - The deployed token is read back from the host to the controller to be checked there; it is never shown, logged or
    returned unless O(return_token=true).
  - Check mode and diff mode report the claims, expiry and signing key fingerprint of the token before and after,
    never the token.
author:
  - Izuma device management collection maintainers (@izuma)
options:
  dest:
    description:
      - Path of the token file on the managed host. Its directory must exist, unless O(directory_mode) is set.
      - The file holds the token followed by a newline.
    type: path
    required: true
  lifetime:
    description:
      - Seconds from signing to the C(exp) claim of a new token. At most O(max_lifetime) (one year by default).
      - Run the task at least every O(lifetime) minus O(renew_margin) seconds, so that a token is renewed before it
        expires.
    type: int
    default: 86400
  renew_margin:
    description:
      - Issue a new token when the deployed one expires within this many seconds. Must be shorter than O(lifetime).
      - When not given, a quarter of O(lifetime), and at most 21600 (6 hours). That is 21600 for the default
        O(lifetime) of one day, and 900 for a token of one hour.
    type: int
  force:
    description:
      - Issue a new token even if the deployed one is still good. Every run with V(true) reports a change.
    type: bool
    default: false
  return_token:
    description:
      - Return the deployed token as RV(token). Off by default so that the token never appears in task output or
        logs; when you turn it on, consider C(no_log) on the task.
    type: bool
    default: false
  follow:
    description:
      - Whether O(dest) may be a symbolic link, whose target then receives the token, as O(ansible.builtin.copy#module:follow)
        does.
      - By default a link at O(dest) is refused with a message naming the link and its target, and neither is
        touched. Writing through a link that someone else can place in a shared directory is the classic way to make a
        privileged task overwrite an unrelated file.
      - With V(true), the link's target is replaced atomically with the token (the link stays) and the file attributes
        apply to the target.
    type: bool
    default: false
  directory_mode:
    description:
      - When set, a missing directory of O(dest) (and missing parents) is created with this mode, an octal string
        such as V('0750'), before the token is written. Existing directories are left as they are.
      - When not set, a missing directory is an error.
    type: raw
    version_added: 1.0.0
  verify:
    description:
      - Prove that the token the host holds after the task works - one authenticated request from the controller,
        C(GET /v3/applications/<application_id>) with the C(X-Application-ID) header and the token as bearer, the
        way the host's service calls the API (an application may always read itself, so no policy is needed).
      - The host fails with a message naming O(dest) and the API's answer when the API refuses the token; RV(verified)
        says the outcome.
      - Needs O(application_id). The request goes to O(api_host) with O(validate_certs), O(ca_path) and O(timeout);
        it is made from the controller, not from the host (to prove that the host itself reaches the API, call it from
        the host, for example with M(ansible.builtin.uri)).
      - In check mode, a token that would be kept is verified (the request is a read); one that would be replaced is not.
    type: bool
    default: false
    version_added: 1.0.0
  verify_kept:
    description:
      - With O(verify=true), also verify a token that was kept. V(false) verifies only a newly written token, so that a
        converged run makes no request.
    type: bool
    default: true
    version_added: 1.0.0
  application_id:
    description:
      - The id of the application whose verification key signs the token; required by O(verify=true).
    type: str
    version_added: 1.0.0
  api_host:
    description:
      - Base URL of the Izuma Device Management API, for O(verify).
      - If not set, the E(IZUMA_API_HOST) environment variable is used.
    type: str
    default: https://api.us-east-1.mbedcloud.com
    version_added: 1.0.0
  validate_certs:
    description:
      - Verify the API's TLS certificate, for O(verify). If not set, the E(IZUMA_VALIDATE_CERTS) environment variable is used.
    type: bool
    default: true
    version_added: 1.0.0
  ca_path:
    description:
      - CA bundle to verify the API's certificate with, for O(verify). If not set, the E(IZUMA_CA_BUNDLE) environment variable is used.
    type: path
    version_added: 1.0.0
  timeout:
    description:
      - Seconds to wait for the API, for O(verify). If not set, the E(IZUMA_TIMEOUT) environment variable is used.
    type: float
    default: 30
    version_added: 1.0.0
  lock_timeout:
    description:
      - Seconds to wait for another run that is writing the same O(dest) on this host (a cron job and a manual run,
        two AWX jobs on one node), which holds an exclusive lock on C(<dest>.lock) while it writes. Once it has
        finished, this run looks at the token that run wrote and keeps it when it is right.
      - When the other run still holds the lock after this long, the task fails and changes nothing.
    type: int
    default: 300
  algorithm:
    choices: [RS256, RS384, RS512, ES256, ES384, ES512, PS256, PS384, PS512]
  mode:
    description:
      - Permissions of the token file, as for M(ansible.builtin.file) - an octal string such as V('0600') or V('0640'),
        or a symbolic mode such as V(u=rw,g=r,o=).
      - A new token is always written to a temporary file created with mode 0600 in the directory of O(dest) and
        renamed over O(dest). Through the connection (see the notes), the temporary file gets O(owner), O(group) and
        this mode before the rename. By the module, with M(ansible.builtin.copy)'s atomic move, a token file already at
        O(dest) is first given this mode (and O(owner), O(group) and the SELinux and file attributes) and passes them on
        to the new one; a new file gets them right after the rename. So a token is never more open than asked, even for
        an instant.
      - A mode that lets other users read the token is applied, with a warning.
    type: raw
    default: '0600'
  _operation:
    description:
      - Internal use only, set by the action plugin (V(inspect), V(write) or V(attributes)). Never set it in a task.
    type: str
    choices: [inspect, write, attributes]
  _token:
    description:
      - Internal use only, set by the action plugin - the token to write. Never set it in a task.
    type: str
  _expected:
    description:
      - Internal use only, set by the action plugin - the SHA-256 of O(dest) as inspected (empty when absent), so
        that a token another run wrote since is not overwritten. Never set it in a task.
    type: str
extends_documentation_fragment:
  - izuma.device_management.jwt
  - izuma.device_management.pkcs11
  - ansible.builtin.files
  - ansible.builtin.action_common_attributes
  - action_common_attributes.files
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
    details:
      - The action plugin signs the token on the controller; the module only reads and writes O(dest) on the host.
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows claims, expiry, signing key fingerprint, mode, owner and group, never the token.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
  platform:
    platforms: posix
  safe_file_operations:
    support: full
  vault:
    support: none
notes:
  - The managed hosts need Python only where the module writes (see below); the controller needs C(cryptography) and C(PyJWT), and
    C(python-pkcs11) with the token's PKCS#11 library for a key in a PKCS#11 token.
  - The deployed token, its mode, owner and group are read through the connection with one POSIX shell command
    (C(ls) and C(od), with become when the task uses it) and checked on the controller (signature, claims, expiry),
    so the controller sees the token in memory, as M(ansible.builtin.slurp) would; it is dropped from every result.
    A host whose token is right costs no module run, and so does a host that needs a new token where it is written
    through the connection too (below); where the module writes, one.
  - That read is made on every connection whose shell is POSIX (the C(sh) family) - C(local) (tested), C(ssh),
    C(paramiko_ssh) and container connections run the same command through the connection. The module reads instead
    (one more module run) where the read cannot give the exact answer - another shell (PowerShell, as with C(winrm)
    or C(psrp)), a O(dest) that is relative or starts with C(~), a symbolic O(mode), file attributes other than
    owner, group and mode (SELinux context, O(attributes)), a symbolic link at O(dest), a missing directory without
    O(directory_mode), or an answer it does not recognise.
  - Where the token was read through the connection, a new token is written through it too, with no module run - one
    more POSIX shell command, with become when the task uses it, that gets the token on its standard input (never in
    its command line or environment). Holding the lock of O(lock_timeout) (C(flock)), it writes the token to a
    temporary file that C(mktemp) creates with mode 0600 in the directory of O(dest), checks that O(dest) still holds
    what was read (C(sha256sum)), sets O(owner), O(group) and O(mode) on the temporary file (without O(owner) and
    O(group), those of the file it replaces, as the atomic move does) and renames it over O(dest) (C(mv -f)). A failure
    before the rename removes the temporary file and leaves O(dest) as it was.
  - The module writes instead (one module run) where the module read, and also for a missing directory to create with
    O(directory_mode), O(unsafe_writes) set in the task, a become password (the connection needs the command's
    standard input to type it), and when the command reports that it cannot apply, before anything is written -
    C(flock), C(mktemp) or C(sha256sum) missing, SELinux enabled on the host (the module keeps the replaced file's
    SELinux context), or a step refused, such as an unknown O(owner) or O(group), which the module then reports. A change
    of O(mode), O(owner) or O(group) alone is made by the module.
  - To upload the matching certificate, see M(izuma.device_management.izuma_verification_key). To sign a token on
    the controller for use in a later task, see the P(izuma.device_management.izuma_jwt#lookup) lookup.
seealso:
  - plugin: izuma.device_management.izuma_jwt
    plugin_type: lookup
  - plugin: izuma.device_management.jwt_claims
    plugin_type: filter
  - plugin: izuma.device_management.jwt_seconds_left
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Deploy a day-long token to every collector, renewed when less than 6 hours remain
  izuma.device_management.izuma_jwt:
    private_key_path: /etc/izuma/controller/telemetry.key
    private_key_passphrase: "{{ vault_telemetry_key_passphrase }}"
    subject: "{{ inventory_hostname }}"
    audience: [izuma-device-management]
    dest: /etc/telemetry/izuma.jwt
    owner: telemetry
    group: telemetry
    mode: '0600'
  become: true

- name: An ES384 token with a custom claim, a kid header and a one-minute nbf backdate; no token may live over 7 days
  izuma.device_management.izuma_jwt:
    private_key_path: keys/gateway-p384.key
    algorithm: ES384
    lifetime: 604800
    max_lifetime: 604800
    renew_margin: 172800
    not_before_skew: 60
    key_id: true
    claims:
      site: "{{ site_name }}"
    dest: /var/lib/gateway/izuma.jwt

- name: Sign with a key inside a PKCS#11 token (an HSM); the token and PIN from IZUMA_PKCS11_* or the options
  izuma.device_management.izuma_jwt:
    pkcs11_library: /usr/lib/softhsm/libsofthsm2.so
    pkcs11_token: izuma
    pkcs11_pin: "{{ vault_hsm_pin }}"
    pkcs11_key_label: izuma:telemetry-signing:current
    algorithm: ES256
    subject: "{{ inventory_hostname }}"
    dest: /etc/telemetry/izuma.jwt

- name: Show what would change (claims, expiry, key fingerprint; never the token)
  izuma.device_management.izuma_jwt:
    private_key_path: /etc/izuma/controller/telemetry.key
    subject: "{{ inventory_hostname }}"
    dest: /etc/telemetry/izuma.jwt
  check_mode: true
  diff: true
"""

RETURN = r"""
dest:
  description: The token file.
  returned: success
  type: str
  sample: /etc/telemetry/izuma.jwt
renewed:
  description: Whether a new token was issued (in check mode, would be).
  returned: success
  type: bool
  sample: true
reason:
  description: Why the token was renewed, or why the deployed one was kept.
  returned: success
  type: str
  sample: the token was not signed by the current key
algorithm:
  description: The JWS algorithm of the token now deployed (in check mode, of the token that would be).
  returned: success
  type: str
  sample: ES256
claims:
  description:
    - The claims of the token now deployed (in check mode, of the token that would be; a random jti is shown as
      C(<random>)).
  returned: success
  type: dict
  sample: {"iat": 1795885200, "exp": 1795971600, "sub": "collector-01", "aud": "izuma-device-management"}
header:
  description: The JOSE header of that token.
  returned: success
  type: dict
  sample: {"alg": "ES256", "typ": "JWT"}
issued_at:
  description: The token's C(iat), as RFC 3339 UTC.
  returned: success
  type: str
  sample: "2026-11-28T17:00:00Z"
expires_at:
  description: The token's C(exp), as RFC 3339 UTC.
  returned: success
  type: str
  sample: "2026-11-29T17:00:00Z"
seconds_left:
  description: Whole seconds until the token expires.
  returned: success
  type: int
  sample: 86400
key_fingerprint:
  description:
    - SHA-256 fingerprint (hex) of the signing key's public key (SubjectPublicKeyInfo DER); the same for the private
      key, its public key and every certificate made for it.
  returned: success
  type: str
  sample: 5d0e3c4f6f1b0c2a9d6e8f7a1b2c3d4e5f60718293a4b5c6d7e8f9011223344
mode:
  description: Permissions of O(dest) after the task (in check mode, before it).
  returned: success
  type: str
  sample: '0600'
owner:
  description: Owner of O(dest) after the task (in check mode, before it).
  returned: success
  type: str
  sample: telemetry
group:
  description: Group of O(dest) after the task (in check mode, before it).
  returned: success
  type: str
  sample: telemetry
token:
  description:
    - The deployed token. Not returned in check mode when a new token would be issued (none is signed then).
  returned: when O(return_token=true)
  type: str
verified:
  description:
    - With O(verify=true), V(true) when the API accepted the token the host holds, V(false) when it refused it (the
      host then fails), V(null) when no request was made (a kept token with O(verify_kept=false), or a token that
      would be replaced in check mode).
  returned: when O(verify=true)
  type: bool
  sample: true
module_runs:
  description:
    - How many times the module ran on the host for this task - V(0) when the deployed token was read through the
      connection and was right or a new one was written through it, V(1) or V(2) when the module read, wrote, or
      changed only the file's attributes (see the notes for when each path applies).
  returned: success
  type: int
  sample: 0
"""

import grp
import hashlib
import os
import pwd
import stat
import tempfile
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.izuma.device_management.plugins.module_utils import _files as files, _locking as locking
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaError
from ansible_collections.izuma.device_management.plugins.module_utils._jwt.options import MUTUALLY_EXCLUSIVE, argument_spec

# A token is a few hundred bytes; a large file at dest is something else, and is not read whole.
MAX_TOKEN_BYTES = 64 * 1024


def file_attributes(path: str) -> t.Dict[str, str]:
    """Mode (octal string), owner and group (names, or numbers without a name) of ``path``."""
    info = os.stat(path)
    try:
        owner = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        owner = str(info.st_uid)
    try:
        group = grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        group = str(info.st_gid)
    return {"mode": "%04o" % stat.S_IMODE(info.st_mode), "owner": owner, "group": group}


def directory_mode(value: t.Any) -> t.Optional[int]:
    """The mode for missing directories of dest, from an octal string or a number; None when not set."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit() and all(char in "01234567" for char in value):
        return int(value, 8)
    raise IzumaError("directory_mode must be an octal mode such as '0750' (got %r)" % (value,))


def _make_directory(path: str, mode: int) -> None:
    """Create the missing directories of ``path``'s parent, each with ``mode`` exactly (whatever the umask)."""
    missing = []
    directory = os.path.dirname(os.path.abspath(path))
    while not os.path.isdir(directory):
        missing.append(directory)
        directory = os.path.dirname(directory)
    for directory in reversed(missing):
        try:
            os.mkdir(directory, mode)
        except FileExistsError:
            continue  # another run made it meanwhile
        except OSError as exc:
            raise IzumaError("cannot create directory %s for the token: %s" % (directory, exc.strerror)) from None
        os.chmod(directory, mode)


def _check_dest(path: str, follow: bool, directory_allowed: bool = False) -> None:
    if os.path.islink(path) and not follow:
        raise IzumaError("dest %s is a symbolic link to %s, and izuma_jwt does not write through a link unless asked: set follow: true "
                         "to write the token to the link's target, or give the path of a regular file" % (path, os.readlink(path)))
    if os.path.isdir(path):
        raise IzumaError("dest %s is a directory: give the path of the token file" % path)
    directory = os.path.dirname(os.path.realpath(path))
    if not os.path.isdir(directory) and not directory_allowed:
        raise IzumaError("cannot write %s: directory %s does not exist; create it first (for example with ansible.builtin.file "
                         "state=directory), or set directory_mode to let izuma_jwt create it" % (path, directory))


def _check_owner_and_group(params: t.Mapping[str, t.Any]) -> None:
    """Refuse an unknown owner or group before anything is written (AnsibleModule would find out after the write)."""
    for option, find, kind in (("owner", pwd.getpwnam, "user"), ("group", grp.getgrnam, "group")):
        value = params.get(option)
        if value is None or str(value).isdigit():
            continue
        try:
            find(str(value))
        except KeyError:
            raise IzumaError("%s %r does not exist on this host: give an existing %s name or a numeric id" % (option, value, kind)) from None


def inspect(module: AnsibleModule, path: str) -> t.Dict[str, t.Any]:
    """Read the deployed token and tell whether its file attributes differ from the requested ones; change nothing.

    Runs in check mode (see main), so AnsibleModule's own comparison says what it would change without changing it.
    The token goes back to the action plugin, which checks it on the controller and drops it from the result.
    """
    _check_dest(path, module.params["follow"], directory_mode(module.params["directory_mode"]) is not None)
    if not os.path.lexists(path):
        return {"changed": False, "exists": False, "token": None, "attributes_differ": True, "content_sha256": ""}
    data = files.read_file(path, what="token", max_size=MAX_TOKEN_BYTES)
    differ = module.set_fs_attributes_if_different(module.load_file_common_arguments(module.params, path=path), False)
    result = {"changed": False, "exists": True, "token": data.decode("ascii", "replace").strip(), "attributes_differ": differ,
              "content_sha256": hashlib.sha256(data).hexdigest()}
    result.update(file_attributes(path))
    return result


def _replace(module: AnsibleModule, path: str, data: bytes) -> None:
    """Put ``data`` at ``path`` atomically: a new 0600 file in the same directory, renamed over the old one.

    As community.crypto's ``write_file``: an existing file first gets the requested attributes, which atomic_move then
    copies onto the new file (so a more open old mode never reaches the new token, and an owner left unset stays).
    """
    target = os.path.realpath(path)
    if os.path.exists(target):
        module.set_fs_attributes_if_different(module.load_file_common_arguments(module.params, path=target), False)
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".%s." % os.path.basename(target), suffix=".tmp")
    module.add_cleanup_file(temporary)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        # A newly created file gets 0666 & ~umask from atomic_move: umask 077 keeps it 0600 until the requested
        # attributes are applied, right after.
        umask = os.umask(0o077)
        try:
            module.atomic_move(temporary, target, unsafe_writes=module.params["unsafe_writes"])
        finally:
            os.umask(umask)
    except Exception as exc:  # pylint: disable=broad-except
        # atomic_move raises plain Exceptions; their text names paths only, never the content.
        raise IzumaError("cannot write token file %s: %s" % (path, exc)) from None


def write(module: AnsibleModule, path: str, token: str) -> t.Dict[str, t.Any]:
    """Write ``token`` to ``path`` atomically (0600 from the first instant), then apply the requested file attributes."""
    make_directory = directory_mode(module.params["directory_mode"])
    _check_dest(path, module.params["follow"], make_directory is not None)
    if not token or token.count(".") != 2:
        raise IzumaError("the token to write is not a JWT; this module must be called by its action plugin")
    _check_owner_and_group(module.params)
    if module.check_mode:
        return _result(path, True)
    if make_directory is not None:
        _make_directory(path, make_directory)
    expected = module.params["_expected"]
    with _locked(module, path):
        if expected is not None and _content_sha256(path) != expected:
            # Another run wrote dest after this one inspected it: keep its token; the action plugin looks again.
            result = _result(path, False)
            result["superseded"] = True
            return result
        _replace(module, path, (token.strip() + "\n").encode("ascii"))
        module.set_fs_attributes_if_different(module.load_file_common_arguments(module.params, path=os.path.realpath(path)), True)
    _warn_if_open(module, path)
    return _result(path, True)


def _locked(module: AnsibleModule, path: str) -> t.ContextManager[str]:
    """The exclusive lock of the token file (``<dest>.lock``, beside the link's target with follow), held while it is written."""
    return locking.exclusive_lock(os.path.realpath(path), timeout=module.params["lock_timeout"], option="lock_timeout",
                                  what="the token file %s" % path)


def _content_sha256(path: str) -> str:
    """SHA-256 of the file at ``path`` as inspect computes it; empty when there is none."""
    if not os.path.lexists(path):
        return ""
    return hashlib.sha256(files.read_file(path, what="token", max_size=MAX_TOKEN_BYTES)).hexdigest()


def apply_attributes(module: AnsibleModule, path: str) -> t.Dict[str, t.Any]:
    """Give the existing token file the requested file attributes (owner, group, mode, SELinux, chattr)."""
    _check_dest(path, module.params["follow"])
    if not os.path.exists(path):
        raise IzumaError("%s does not exist, so its owner, group and mode cannot be set" % path)
    if module.check_mode:
        return _result(path, module.set_fs_attributes_if_different(module.load_file_common_arguments(module.params, path=path), False))
    with _locked(module, path):
        changed = module.set_fs_attributes_if_different(module.load_file_common_arguments(module.params, path=path), False)
    _warn_if_open(module, path)
    return _result(path, changed)


def _result(path: str, changed: bool) -> t.Dict[str, t.Any]:
    result = {"changed": changed}  # type: t.Dict[str, t.Any]
    if os.path.exists(path):
        result.update(file_attributes(path))
    return result


def _warn_if_open(module: AnsibleModule, path: str) -> None:
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o007:
        module.warn("mode %04o of %s lets every user of the host use the token in it: use mode 0600, or 0640 with a group"
                    % (mode, path))


def main() -> None:
    """Module entry point: the host side of izuma_jwt."""
    module = AnsibleModule(argument_spec=argument_spec(), mutually_exclusive=MUTUALLY_EXCLUSIVE, supports_check_mode=True,
                           add_file_common_args=True)
    operation = module.params["_operation"]
    path = module.params["dest"]
    if operation is None:
        module.fail_json(msg="izuma_jwt signs tokens on the controller in its action plugin, which did not run: "
                             "call it as the task izuma.device_management.izuma_jwt")
    if operation == "inspect":
        # Inspecting changes nothing by definition: AnsibleModule's check mode makes its attribute comparison a dry run.
        module.check_mode = True
    try:
        if operation == "inspect":
            result = inspect(module, path)
        elif operation == "write":
            result = write(module, path, module.params["_token"] or "")
        else:
            result = apply_attributes(module, path)
    except IzumaError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()

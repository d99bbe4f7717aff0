# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: izuma_jwt
short_description: Sign a JWT for Izuma Device Management on the controller
version_added: 1.0.0
description:
  - Returns a JSON Web Token signed with the private key of an application's verification key, for use in a later task,
    for example in the C(Authorization) header of M(ansible.builtin.uri) next to C(X-Application-ID).
  - The same signing rules as M(izuma.device_management.izuma_jwt) - RS256, RS384, RS512, ES256, ES384, ES512, PS256,
    PS384 or PS512 fitted to the key; C(none), HS* and a weak or mismatched key are refused before signing; C(exp) and
    C(iat) always, from O(lifetime).
  - "Fast in loops: within one Ansible process (for a task, its loop over a thousand items) the private key is read and
    parsed once (again only when its file changes), and a token is reused while more than half of its lifetime, and at
    least 30 seconds, remain, keyed by key, algorithm and every claim and header option. A lookup is templated again
    each time its value is used, so this is what keeps it cheap: the same call again (the same options, wherever they
    come from) is answered from a per-process cache of whole calls."
  - Options come from the lookup's keyword arguments, then variables, then the environment (C(IZUMA_*), not
    C(ANSIBLE_*)), then C(ansible.cfg) section C([izuma_jwt]).
author:
  - Izuma device management collection maintainers (@izuma)
options:
  _terms:
    description:
      - Optional; without terms the lookup returns one token.
      - With terms, one token per term. A string term is the C(sub) claim of its token (overriding O(subject)); a
        mapping term overrides signing options for its token (O(lifetime), O(claims), O(audience), and the other
        options except the private key ones). A list term counts as its items.
    type: list
    elements: raw
    required: false
  lifetime:
    description:
      - Seconds from signing to the C(exp) claim. At most O(max_lifetime) (one year by default).
    type: int
    default: 600
    env:
      - name: IZUMA_JWT_LIFETIME
    vars:
      - name: izuma_jwt_lifetime
    ini:
      - section: izuma_jwt
        key: lifetime
  reuse_tokens:
    description:
      - Reuse a token signed earlier in the same process for the same key and options while more than half of its
        lifetime remains. V(false) signs a new token on every call (a new C(jti) with O(random_jwt_id)).
    type: bool
    default: true
    env:
      - name: IZUMA_JWT_REUSE_TOKENS
    vars:
      - name: izuma_jwt_reuse_tokens
    ini:
      - section: izuma_jwt
        key: reuse_tokens
  private_key_path:
    # A plain string, not a config path (which would be relative to the working directory): the lookup resolves it.
    type: str
extends_documentation_fragment:
  - izuma.device_management.jwt
  - izuma.device_management.jwt.plugins
  - izuma.device_management.pkcs11
  - izuma.device_management.pkcs11.plugins
notes:
  - Like every lookup, this one runs on the controller and B(signs even in check mode); a token obtained in check mode is
    a real, usable token.
  - The lookup never prints a token, a key or a passphrase, at any verbosity. At C(-vvv) it says whether it signed or
    reused a token, with the key fingerprint, algorithm and expiry. The value it returns is a secret; do not show it
    with M(ansible.builtin.debug), and use C(no_log) on tasks that pass it on (M(ansible.builtin.uri) returns its
    request headers in its result).
  - The private key is read from the controller's file system; a relative O(private_key_path) is relative to the
    playbook's directory. A key in a PKCS#11 token (O(pkcs11_key_label)) signs in the token on the controller; each
    Ansible process logs in once and finds the key once, and the cache of whole calls keys them by a keyed hash of
    all the options, the PIN included, never by the PIN itself.
seealso:
  - module: izuma.device_management.izuma_jwt
  - plugin: izuma.device_management.jwt_claims
    plugin_type: filter
  - plugin: izuma.device_management.jwt_seconds_left
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Call the API as an application, with a token signed on the controller
  ansible.builtin.uri:
    url: "https://api.us-east-1.mbedcloud.com/v3/applications/{{ app_id }}"
    headers:
      Authorization: "Bearer {{ lookup('izuma.device_management.izuma_jwt', private_key_path='keys/telemetry.key') }}"
      X-Application-ID: "{{ app_id }}"
  no_log: true

- name: One token per device name, each with sub set to the name, a five-minute lifetime
  ansible.builtin.set_fact:
    device_tokens: "{{ query('izuma.device_management.izuma_jwt', *device_names, lifetime=300) }}"
  no_log: true

- name: Per-token options in a mapping term
  ansible.builtin.set_fact:
    gateway_token: >-
      {{ lookup('izuma.device_management.izuma_jwt', {'subject': 'gw-1', 'claims': {'site': 'hel'}},
                private_key_content=vault_gateway_key, algorithm='PS256') }}
  no_log: true

- name: A token signed inside a PKCS#11 token (an HSM); library, token and PIN from IZUMA_PKCS11_* (an AWX credential)
  ansible.builtin.set_fact:
    hsm_token: "{{ lookup('izuma.device_management.izuma_jwt', pkcs11_key_label='izuma:telemetry-signing:current') }}"
  no_log: true

# With variables (izuma_jwt_private_key_path, izuma_jwt_algorithm, ...) or the environment
# (IZUMA_PRIVATE_KEY_PATH, IZUMA_JWT_ALGORITHM, ...) the call needs no arguments:
- name: Use the key configured for the play
  ansible.builtin.set_fact:
    api_token: "{{ lookup('izuma.device_management.izuma_jwt') }}"
  no_log: true
"""

RETURN = r"""
_raw:
  description: One signed token (a compact JWS string) per term, or one token without terms.
  type: list
  elements: str
"""

import time
import typing as t

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.izuma.device_management.plugins.module_utils._jwt import key_source
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import signing as tokens
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import options as pkcs11_options
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import status as token_status
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaError
from ansible_collections.izuma.device_management.plugins.module_utils import _times as times
from ansible_collections.izuma.device_management.plugins.plugin_utils import _jwt_plugin as jwt_plugin

display = Display()

# Signing options a mapping term may override (the key options may not: one lookup, one key).
TERM_OPTIONS = frozenset(jwt_plugin.SIGN_OPTION_NAMES)


class LookupModule(LookupBase):
    """The izuma_jwt lookup: one signed token per term."""

    def run(self, terms: t.List[t.Any], variables: t.Optional[t.Dict[str, t.Any]] = None, **kwargs: t.Any) -> t.List[str]:
        """Return one token per term (one token without terms)."""
        variables = variables or {}
        # Ansible's option handling: keyword arguments, then variables, the environment, ansible.cfg, the default.
        self.set_options(var_options=variables, direct=kwargs)
        call = None
        if display.verbosity < 3:
            # The same call again (a template re-rendered, a loop) is answered from the call cache: see CallCache.
            call = jwt_plugin.CALL_CACHE.key(self._load_name, terms, self.get_options(), variables.get("role_path"),
                                             self._loader.get_basedir() if self._loader else None)
            answer = jwt_plugin.CALL_CACHE.get(call, time.time())
            if answer is not None:
                return answer
        try:
            results, window, key_path, identity = self._tokens(terms, variables)
        except IzumaError as exc:
            raise AnsibleLookupError("izuma_jwt: %s" % exc.message) from None
        if call is not None and window is not None:
            jwt_plugin.CALL_CACHE.put(call, results, window, key_path, identity)
        return results

    def _tokens(self, terms: t.List[t.Any], variables: t.Dict[str, t.Any]
                ) -> t.Tuple[t.List[str], t.Optional[t.Tuple[float, float]], t.Optional[str], t.Optional[t.Tuple[int, ...]]]:
        """The tokens, the window in which the token cache would give the same ones again (None: no reuse), the key file and its identity."""
        option = self.get_option
        path = jwt_plugin.resolve_key_path(option("private_key_path"), variables, self._loader)
        # A PKCS#11 key only when its label is given: a library or token configured for the play (ansible.cfg,
        # IZUMA_PKCS11_*) does not turn a call with a key file into a PKCS#11 one, nor fail it.
        pkcs11 = None
        if option("pkcs11_key_label"):
            pkcs11 = pkcs11_options.pkcs11_source({name: option(name) for name in pkcs11_options.OPTION_NAMES})
        key, identity = key_source.load_signing_key_identity(path, option("private_key_content"), option("private_key_passphrase"),
                                                             pkcs11=pkcs11)
        window = (float("-inf"), float("inf")) if option("reuse_tokens") else None
        results = []
        # query('...', names) passes the list as one term: one level of lists is flattened.
        for term in (self._flatten(terms) if terms else None) or [None]:
            sign = jwt_plugin.sign_options(self._getter(term))
            if window is not None:
                hits = jwt_plugin.TOKEN_CACHE.hits
                token, start, until = jwt_plugin.TOKEN_CACHE.get_or_sign_window(key, **sign)
                window = (max(window[0], start), min(window[1], until))
                how = "reused a cached token" if jwt_plugin.TOKEN_CACHE.hits > hits else "signed a new token"
            else:
                token = tokens.sign_token(key, **sign)
                how = "signed a new token"
            if display.verbosity >= 3:
                # Only what identifies the token, never the token: computed only when it is shown.
                claims = token_status.decode_unverified(token)["claims"]
                algorithm = sign.get("algorithm") or tokens.default_algorithm(key)
                display.vvv("izuma_jwt: %s (%s, key %s, expires %s)"
                            % (how, algorithm, keys.public_key_fingerprint(key)[:16], times.to_rfc3339(claims["exp"])))
            results.append(token)
        return results, window, path, identity

    def _getter(self, term: t.Any) -> t.Callable[[str], t.Any]:
        """An option getter for one term: the term's overrides, then the lookup's options."""
        option = self.get_option
        if term is None:
            return option
        if isinstance(term, str):
            return lambda name: term if name == "subject" else option(name)
        if isinstance(term, dict):
            unknown = sorted(str(name) for name in term if name not in TERM_OPTIONS)
            if unknown:
                raise IzumaError("a mapping term may set only signing options (%s), not %s"
                                 % (", ".join(sorted(TERM_OPTIONS)), ", ".join(unknown)))
            return lambda name: term[name] if name in term else option(name)
        raise IzumaError("each term must be a string (the sub claim) or a mapping of signing options, got %s" % type(term).__name__)

# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Signing options of the plugins that make JWTs (the izuma_jwt module and lookup)."""

from __future__ import annotations


class ModuleDocFragment:
    """Use C(izuma.device_management.jwt) in the izuma_jwt module; C(izuma.device_management.jwt) and then
    C(izuma.device_management.jwt.plugins) in the lookup.

    DOCUMENTATION holds every option text once. PLUGINS adds only what a lookup adds - where else an option may come
    from (env, vars, ini) - as community.hashi_vault layers its connection fragment. The lifetime is not here: the
    module and the lookup have different defaults. The algorithm choices are not here either: the module's argument
    spec enforces them, and the lookup refuses a wrong algorithm itself, with a message that says why.
    """

    # The options, for the izuma_jwt module (its action plugin reads them on the controller) and the lookup.
    DOCUMENTATION = r"""
options:
  private_key_path:
    description:
      - Path, on the controller, of the PEM private key (PKCS#8 or traditional, encrypted or not) that signs the token.
        It is the private key of a verification key uploaded to the application, and it never leaves the controller.
      - A relative path is relative to the playbook's directory (the role's, in a role); C(~) is expanded.
      - One of O(private_key_path), O(private_key_content) and O(pkcs11_key_label) (a key in a PKCS#11 token) is
        required.
    type: path
  private_key_content:
    description:
      - The PEM private key that signs the token, as content (for example from Ansible Vault).
      - Mutually exclusive with O(private_key_path) and O(pkcs11_key_label).
    type: str
  private_key_passphrase:
    description:
      - Passphrase of an encrypted private key. Giving one for a key that is not encrypted is an error, so that a key
        believed to be protected but stored in clear is noticed.
      - Not for a PKCS#11 key, which the token protects with O(pkcs11_pin).
    type: str
  algorithm:
    description:
      - JWS algorithm, one of V(RS256), V(RS384), V(RS512), V(ES256), V(ES384), V(ES512), V(PS256), V(PS384) and
        V(PS512). By default V(RS256) for an RSA key, and V(ES256), V(ES384) or V(ES512) for an EC key on P-256,
        P-384 or P-521.
      - The algorithm must fit the key - RS* and PS* need an RSA key of at least 2048 bits, ES256 a P-256 key, ES384 a
        P-384 key, ES512 a P-521 key. C(none) and the HMAC algorithms (HS*) are refused, as Izuma Device Management does.
    type: str
  max_lifetime:
    description:
      - The longest lifetime, in seconds, allowed for a token; a longer O(lifetime) is refused before anything is
        signed. Set it once (for example in C(module_defaults) or a group variable) to enforce a policy.
      - By default one year. Raise it knowingly for a longer-lived token; no token may live longer than ten years
        (315360000 seconds), whatever this says.
    type: int
    default: 31536000
  issuer:
    description: The C(iss) claim.
    type: str
  subject:
    description: The C(sub) claim.
    type: str
  audience:
    description:
      - The C(aud) claim. One audience is signed as a string, several as a list.
    type: list
    elements: str
  jwt_id:
    description:
      - A fixed C(jti) claim. Mutually exclusive with O(random_jwt_id).
    type: str
  random_jwt_id:
    description:
      - Give each new token a random C(jti) claim (a UUID4 in hex). A token that the lookup reuses from its cache keeps
        its jti.
    type: bool
    default: false
  claims:
    description:
      - Further claims, as a mapping of claim names to JSON values (strings, numbers, booleans, lists, mappings).
      - V(exp), V(iat) and V(nbf) are refused here; they come from O(lifetime) and O(not_before_skew). So are
        V(iss), V(sub), V(aud) and V(jti) when the matching option is also given.
    type: dict
  headers:
    description:
      - Further JOSE header fields, such as C(kid) or C(typ).
      - V(alg) is refused (it comes from O(algorithm)), and so are V(jku), V(jwk), V(x5u), V(x5c) and V(crit), which
        would change how the token is verified.
    type: dict
  key_id:
    description:
      - Add a C(kid) header, the first 32 hex digits of the SHA-256 fingerprint of the signing key's public key.
      - Izuma Device Management does not need it (it tries each verification key of the application), but it helps to
        tell which key signed a token during a rotation.
    type: bool
    default: false
  not_before_skew:
    description:
      - Add an C(nbf) claim this many seconds before the time of signing, so that a verifier whose clock runs a little
        behind accepts the token at once. No C(nbf) claim when not set.
    type: int
requirements:
  - cryptography and PyJWT on the controller
"""

    # What the lookup adds: where else each option may come from.
    PLUGINS = r"""
options:
  private_key_path:
    env:
      - name: IZUMA_PRIVATE_KEY_PATH
    vars:
      - name: izuma_jwt_private_key_path
    ini:
      - section: izuma_jwt
        key: private_key_path
  private_key_content:
    env:
      - name: IZUMA_PRIVATE_KEY
    vars:
      - name: izuma_jwt_private_key_content
  private_key_passphrase:
    env:
      - name: IZUMA_PRIVATE_KEY_PASSPHRASE
    vars:
      - name: izuma_jwt_private_key_passphrase
  algorithm:
    env:
      - name: IZUMA_JWT_ALGORITHM
    vars:
      - name: izuma_jwt_algorithm
    ini:
      - section: izuma_jwt
        key: algorithm
  max_lifetime:
    env:
      - name: IZUMA_JWT_MAX_LIFETIME
    vars:
      - name: izuma_jwt_max_lifetime
    ini:
      - section: izuma_jwt
        key: max_lifetime
  issuer:
    env:
      - name: IZUMA_JWT_ISSUER
    vars:
      - name: izuma_jwt_issuer
    ini:
      - section: izuma_jwt
        key: issuer
  subject:
    vars:
      - name: izuma_jwt_subject
  audience:
    env:
      - name: IZUMA_JWT_AUDIENCE
    vars:
      - name: izuma_jwt_audience
    ini:
      - section: izuma_jwt
        key: audience
  claims:
    vars:
      - name: izuma_jwt_claims
  headers:
    vars:
      - name: izuma_jwt_headers
  not_before_skew:
    env:
      - name: IZUMA_JWT_NOT_BEFORE_SKEW
    vars:
      - name: izuma_jwt_not_before_skew
    ini:
      - section: izuma_jwt
        key: not_before_skew
"""

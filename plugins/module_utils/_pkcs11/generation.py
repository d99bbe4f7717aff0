# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Generating a key pair in a PKCS#11 token: the mechanism it needs, and the key templates, strict first.

Before anything is asked of the token, its mechanism list (``Pkcs11Session.mechanisms``) must hold the key pair
generation mechanism (CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_EC_KEY_PAIR_GEN), and an RSA size must be within the sizes
its mechanism info gives; otherwise the request is refused naming the mechanism and what to choose instead.

Templates, in order:

- ``sign-only`` (least privilege): the private key may sign and nothing else (CKA_DECRYPT, CKA_UNWRAP, CKA_DERIVE
  false), the public key may verify and nothing else (CKA_ENCRYPT, CKA_WRAP, CKA_DERIVE false). SoftHSM2 accepts it.
- ``token-default``: only what the product needs is asked for (CKA_SIGN / CKA_VERIFY, CKA_SENSITIVE, CKA_EXTRACTABLE
  false, CKA_PRIVATE, CKA_TOKEN, CKA_ID, CKA_LABEL, the RSA public exponent or the EC curve) and every other
  attribute is left to the token. tpm2-pkcs11 needs it: its keys can always decrypt, and it answers
  CKR_GENERAL_ERROR to a template that says otherwise.

python-pkcs11 writes every capability attribute into a template from its ``capabilities`` argument (false for the
ones not asked); its ``DEFAULT`` sentinel as a value takes an attribute out of the template, which is how
``token-default`` leaves CKA_ENCRYPT, CKA_WRAP, CKA_DECRYPT, CKA_UNWRAP and CKA_DERIVE to the token.

The second template is tried only when the token refuses the first with an answer that means "not this template"
(``errors.TEMPLATE_REFUSALS``); whatever a refused attempt made is destroyed (by its random CKA_ID) before the next.
The template a token accepted is kept per session and key type, so the next key does not fail first again.
"""

from __future__ import annotations

import typing as t

from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys as _keys
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import errors
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11.session import (
    HAS_PKCS11,
    IzumaPkcs11Error,
    Pkcs11Session,
)

if HAS_PKCS11:
    import pkcs11
    from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag
    from pkcs11 import exceptions as pkcs11_errors
    from pkcs11.util import ec as pkcs11_ec

SIGN_ONLY = "sign-only"
TOKEN_DEFAULT = "token-default"
TEMPLATES = (SIGN_ONLY, TOKEN_DEFAULT)
OPENSSL_CURVES = {"P-256": "secp256r1", "P-384": "secp384r1", "P-521": "secp521r1"}


def mechanism_name(mechanism: t.Any) -> str:
    """``CKM_EC_KEY_PAIR_GEN`` for a python-pkcs11 Mechanism."""
    return "CKM_" + getattr(mechanism, "name", "0x%08X" % int(mechanism))


def check_mechanisms(session: Pkcs11Session, key_type: str, size: t.Optional[int]) -> None:
    """Refuse a key the token's mechanism list says it cannot generate, naming the mechanism and what to choose instead.

    A library that cannot list its mechanisms is not refused here: the token answers the request itself.
    """
    mechanisms = session.mechanisms()
    needed, other, other_type = Mechanism.RSA_PKCS_KEY_PAIR_GEN, Mechanism.EC_KEY_PAIR_GEN, "EC"
    if key_type == "EC":
        needed, other, other_type = other, needed, "RSA"
    if mechanisms is not None and needed not in mechanisms:
        instead = ("use key_type: %s" % other_type if other in mechanisms
                   else "use another PKCS#11 token: this one can generate neither RSA nor EC key pairs")
        raise IzumaPkcs11Error("%s cannot generate %s keys: it has no %s; %s" % (session.describe(), key_type, mechanism_name(needed), instead))
    info = session.mechanism_info(needed) if key_type == "RSA" and size else None
    low, high = getattr(info, "min_key_length", None), getattr(info, "max_key_length", None)
    # Bits, as PKCS#11 defines them for RSA; a library that gives bytes (or nothing) is left to the token to answer.
    if size and low is not None and high is not None and high >= 1024 and not low <= size <= high:
        sizes = [str(candidate) for candidate in _keys.RSA_SIZES if low <= candidate <= high]
        instead = "use key_size: %s" % " or ".join(sizes) if sizes else "use key_type: EC"
        raise IzumaPkcs11Error("%s cannot generate RSA %d keys: its %s makes RSA keys of %d to %d bits; %s"
                               % (session.describe(), size, mechanism_name(needed), low, high, instead))


def templates(name: str, key_type: str) -> t.Tuple[t.Dict[t.Any, t.Any], t.Dict[t.Any, t.Any]]:
    """The (private, public) key templates called ``name`` (SIGN_ONLY or TOKEN_DEFAULT) for ``key_type``."""
    private = {Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.PRIVATE: True, Attribute.TOKEN: True,
               Attribute.SIGN: True}  # type: t.Dict[t.Any, t.Any]
    public = {Attribute.TOKEN: True, Attribute.VERIFY: True}  # type: t.Dict[t.Any, t.Any]
    if name == SIGN_ONLY:
        private.update({Attribute.DECRYPT: False, Attribute.UNWRAP: False, Attribute.DERIVE: False})
        public.update({Attribute.ENCRYPT: False, Attribute.WRAP: False, Attribute.DERIVE: False})
    else:
        # python-pkcs11 would write these as false (from capabilities); DEFAULT takes them out of the template.
        leave_out = getattr(pkcs11, "DEFAULT", None)
        if leave_out is None:
            raise IzumaPkcs11Error("this python-pkcs11 cannot leave key attributes to the token (it has no pkcs11.DEFAULT): "
                                   "upgrade it (pip install 'python-pkcs11>=0.10')")
        private.update(dict.fromkeys((Attribute.DECRYPT, Attribute.UNWRAP, Attribute.DERIVE), leave_out))
        public.update(dict.fromkeys((Attribute.ENCRYPT, Attribute.WRAP), leave_out))
    if key_type == "RSA":
        public[Attribute.PUBLIC_EXPONENT] = _keys.RSA_PUBLIC_EXPONENT.to_bytes(3, "big")
    return private, public


def _generate(session: Pkcs11Session, name: str, key_type: str, size: t.Optional[int], curve: t.Optional[str], label: str,
              key_id: bytes) -> t.Tuple[t.Any, t.Any]:
    private_template, public_template = templates(name, key_type)
    options = {"id": key_id, "label": label, "store": True, "capabilities": MechanismFlag.SIGN | MechanismFlag.VERIFY,
               "private_template": private_template, "public_template": public_template}
    with session.lock:
        if key_type == "RSA":
            return session.session.generate_keypair(KeyType.RSA, size, **options)
        params = session.session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: pkcs11_ec.encode_named_curve_parameters(OPENSSL_CURVES[t.cast(str, curve)])}, local=True)
        return params.generate_keypair(**options)


def discard(session: Pkcs11Session, key_id: bytes) -> bool:
    """Destroy every object with CKA_ID ``key_id`` (what a refused generation may have left); True when none is left."""
    try:
        with session.lock:
            for obj in list(session.session.get_objects({Attribute.ID: key_id})):
                obj.destroy()
            return not list(session.session.get_objects({Attribute.ID: key_id}))
    except pkcs11_errors.PKCS11Error:
        return False


def _refusal(session: Pkcs11Session, key_type: str, size: t.Optional[int], curve: t.Optional[str], exc: BaseException, name: str,
             refused: t.Optional[BaseException], clean: bool, key_id: bytes) -> IzumaPkcs11Error:
    what = "RSA %d" % t.cast(int, size) if key_type == "RSA" else "EC %s" % curve
    message = "%s refused to generate an %s key pair" % (session.describe(), what)
    if refused is None:
        message += ": %s" % errors.describe(exc)
    else:
        message += " with the %s key template: %s; it had refused the %s template with %s" % (
            name, errors.describe(exc), SIGN_ONLY, errors.describe(refused))
    if clean:
        return IzumaPkcs11Error(message + "; nothing was left in the token (the library may print the cause on its standard error)")
    return IzumaPkcs11Error(message + "; objects with CKA_ID %s may be left in the token: delete them (pkcs11-tool --delete-object "
                            "--id %s)" % (key_id.hex(), key_id.hex()))


def generate(session: Pkcs11Session, key_type: str, size: t.Optional[int], curve: t.Optional[str], label: str,
             key_id: bytes) -> t.Tuple[t.Any, t.Any, str]:
    """Generate the pair (mechanisms checked first); return (public, private, the name of the template the token took)."""
    check_mechanisms(session, key_type, size)
    names = TEMPLATES[TEMPLATES.index(session.templates.get(key_type, SIGN_ONLY)):]
    refused = None  # type: t.Optional[BaseException]
    for name in names:
        try:
            public, private = _generate(session, name, key_type, size, curve, label, key_id)
        except pkcs11_errors.PKCS11Error as exc:
            clean = discard(session, key_id)
            if clean and name != names[-1] and errors.is_one_of(exc, errors.TEMPLATE_REFUSALS):
                refused = exc
                continue
            raise _refusal(session, key_type, size, curve, exc, name, refused, clean, key_id) from None
        session.templates[key_type] = name
        return public, private, name
    raise AssertionError("no key template to try")  # pragma: no cover - TEMPLATES is not empty

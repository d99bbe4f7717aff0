# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Key pairs for Izuma Device Management verification keys.

The one key library of the collection: generate, load and dump private keys,
describe them and check them against the product's key rules (RSA >= 2048 bits
or EC >= 256 bits on P-256, P-384 or P-521). Certificates (and public keys read
from PEM, which may be a certificate's) are in ``certificates``, which builds on
this module; time helpers in ``_times``.

Everything uses the ``cryptography`` library's API; nothing here parses ASN.1
by hand. The only text handling is finding PEM blocks, so that a file holding
two certificates, or a key next to a certificate, gets a precise message.

Error messages name the input (the ``source`` argument) and the fix. They never
contain key material, certificates' base64 bodies or passphrases.
"""

from __future__ import annotations

import hashlib
import re
import traceback
import typing as t

from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaKeyError

try:
    import cryptography
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()  # type: t.Optional[str]
else:
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None

# cryptography 39 and later can skip the (slow) RSA key consistency checks when parsing; see load_private_key.
CAN_SKIP_RSA_VALIDATION = HAS_CRYPTOGRAPHY and int(cryptography.__version__.split(".")[0]) >= 39

if t.TYPE_CHECKING:  # pragma: no cover - names for annotations only
    PrivateKey = t.Union["rsa.RSAPrivateKey", "ec.EllipticCurvePrivateKey"]
    KeyOrCert = t.Any

KEY_TYPES = ("RSA", "EC")
RSA_SIZES = (2048, 3072, 4096)
EC_CURVES = ("P-256", "P-384", "P-521")
MIN_RSA_BITS = 2048
MIN_EC_BITS = 256
MAX_CERTIFICATE_CHARS = 2000
RSA_PUBLIC_EXPONENT = 65537
CLOCK_SKEW_SECONDS = 300
MAX_VALID_DAYS = 36500

# Friendly spellings of the three NIST curves JWT's ES256/ES384/ES512 can use.
_CURVE_ALIASES = {
    "p-256": "P-256", "p256": "P-256", "secp256r1": "P-256", "prime256v1": "P-256",
    "p-384": "P-384", "p384": "P-384", "secp384r1": "P-384",
    "p-521": "P-521", "p521": "P-521", "secp521r1": "P-521",
}
# cryptography's curve names (curve.name) to the JOSE names above.
_CURVE_BY_OPENSSL_NAME = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
_CURVE_BY_SIZE = {256: "P-256", 384: "P-384", 521: "P-521"}

_PEM_BLOCK_RE = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)
_PRIVATE_KEY_LABELS = ("PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY")

CRYPTOGRAPHY_MISSING_MESSAGE = (
    "the Python library 'cryptography' is required on the host that runs this task "
    "(install it with: pip install 'cryptography>=3.4.1')"
)


def require_cryptography() -> None:
    """Raise IzumaKeyError when the ``cryptography`` library cannot be imported."""
    if not HAS_CRYPTOGRAPHY:
        raise IzumaKeyError(CRYPTOGRAPHY_MISSING_MESSAGE, import_error=CRYPTOGRAPHY_IMPORT_ERROR)


# ---------------------------------------------------------------------------
# Key description and rules
# ---------------------------------------------------------------------------

def _public_key(obj: t.Any) -> t.Any:
    """Return the public key of a certificate, private key or public key object."""
    require_cryptography()
    if isinstance(obj, x509.Certificate):
        return obj.public_key()
    if hasattr(obj, "public_bytes") and not hasattr(obj, "private_bytes"):
        return obj
    if hasattr(obj, "private_bytes") and hasattr(obj, "public_key"):
        return obj.public_key()
    raise IzumaKeyError("expected a private key, public key or certificate object, got %s" % type(obj).__name__)


def _algorithm_name(public_key: t.Any) -> str:
    """Name a public key's algorithm the way the API does (RSA, EC), or by its kind for keys the product refuses.

    Other kinds (DSA, Ed25519, X448, ...) are named from their class, ``DSAPublicKey`` giving ``DSA``: naming
    ``dsa.DSAPublicKey`` itself makes cryptography 51 and later warn that DSA is deprecated, on every run. In older
    cryptography versions the classes are the OpenSSL backend's (``_Ed25519PublicKey``): the underscore goes too.
    """
    if isinstance(public_key, rsa.RSAPublicKey):
        return "RSA"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return "EC"
    name = type(public_key).__name__.lstrip("_")
    return name[:-len("PublicKey")] if name.endswith("PublicKey") and name != "PublicKey" else name


def curve_name(curve: t.Any) -> str:
    """Return the JOSE name (P-256, P-384, P-521) of a curve, or cryptography's name for other curves."""
    return _CURVE_BY_OPENSSL_NAME.get(curve.name, curve.name)


def key_description(key: KeyOrCert) -> t.Dict[str, t.Any]:
    """Describe a private key, public key or certificate's key without secrets.

    Returns ``{"algorithm": "RSA"|"EC"|..., "key_size": int|None, "curve": str|None}``.
    """
    public_key = _public_key(key)
    algorithm = _algorithm_name(public_key)
    curve = None
    if algorithm == "EC":
        curve = curve_name(public_key.curve)
        size = public_key.curve.key_size  # type: t.Optional[int]
    else:
        size = getattr(public_key, "key_size", None)
    return {"algorithm": algorithm, "key_size": size, "curve": curve}


def key_problems(key: KeyOrCert, what: str = "the key") -> t.List[str]:
    """List why a key (or a certificate's key) cannot be used with Izuma Device Management.

    Each problem is a full sentence that starts with ``what`` and says the fix.
    An empty list means the key is an RSA key of at least 2048 bits or an EC
    key on P-256, P-384 or P-521.
    """
    desc = key_description(key)
    algorithm, size, curve = desc["algorithm"], desc["key_size"], desc["curve"]
    if algorithm == "RSA":
        if size < MIN_RSA_BITS:
            return ["%s is an RSA key of %d bits; Izuma Device Management requires at least %d bits: "
                    "use a new RSA key of 2048, 3072 or 4096 bits." % (what, size, MIN_RSA_BITS)]
        return []
    if algorithm == "EC":
        if size < MIN_EC_BITS:
            return ["%s is an EC key on %s (%d bits); Izuma Device Management requires at least %d bits: "
                    "use a new EC key on P-256, P-384 or P-521." % (what, curve, size, MIN_EC_BITS)]
        if curve not in EC_CURVES:
            # Big enough for the product's rule, but JWT's ES256/ES384/ES512 are
            # defined only on the NIST curves, so no accepted token could be signed.
            return ["%s is an EC key on %s, which none of the supported JWT algorithms (ES256, ES384, ES512) "
                    "can sign with: use a new EC key on P-256, P-384 or P-521." % (what, curve)]
        return []
    return ["%s is a %s key; Izuma Device Management accepts only RSA and EC keys: "
            "use a new RSA (2048+ bits) or EC (P-256, P-384, P-521) key." % (what, algorithm)]


def public_key_fingerprint(key_or_cert: KeyOrCert) -> str:
    """Return the SHA-256 hex digest (lowercase, no colons) of the SubjectPublicKeyInfo DER.

    Equal for a private key, its public key and every certificate made for it,
    so it identifies "the same key pair" across files and API objects.
    """
    public_key = _public_key(key_or_cert)
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


# ---------------------------------------------------------------------------
# Private keys
# ---------------------------------------------------------------------------

def _normalize_curve(curve: str) -> str:
    normalized = _CURVE_ALIASES.get(str(curve).strip().lower())
    if normalized is None:
        raise IzumaKeyError("EC curve %r is not supported for Izuma Device Management: choose P-256, P-384 or P-521" % (curve,))
    return normalized


def _curve_object(name: str) -> t.Any:
    return {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}[name]()


def generate_private_key(key_type: str = "RSA", size: t.Optional[int] = None, curve: t.Optional[str] = None) -> PrivateKey:
    """Generate a new RSA or EC private key that meets the product's rules.

    ``key_type`` is ``RSA`` (``size`` 2048, 3072 or 4096; default 2048) or
    ``EC`` (``curve`` P-256, P-384 or P-521; default P-256; ``size`` 256, 384
    or 521 may name the curve instead). Weaker or unknown choices raise
    IzumaKeyError naming the product minimum.
    """
    require_cryptography()
    kind = str(key_type).strip().upper()
    if kind in ("ECC", "ECDSA"):
        kind = "EC"
    if kind not in KEY_TYPES:
        raise IzumaKeyError("key type %r is not supported for Izuma Device Management: choose RSA or EC" % (key_type,))
    if size is not None and (isinstance(size, bool) or not isinstance(size, int)):
        raise IzumaKeyError("key size must be a whole number of bits, got %r" % (size,))
    if kind == "RSA":
        if curve is not None:
            raise IzumaKeyError("a curve (%r) was given for an RSA key: curves apply to EC keys only; remove the curve or choose key type EC" % (curve,))
        bits = 2048 if size is None else size
        if bits < MIN_RSA_BITS:
            raise IzumaKeyError("RSA keys must be at least %d bits for Izuma Device Management (got %d); choose 2048, 3072 or 4096" % (MIN_RSA_BITS, bits))
        if bits not in RSA_SIZES:
            # Larger keys would make the certificate exceed the 2,000 character limit.
            raise IzumaKeyError("RSA key size %d is not supported (a larger certificate would exceed Izuma Device Management's %d character limit); "
                                "choose 2048, 3072 or 4096" % (bits, MAX_CERTIFICATE_CHARS))
        return rsa.generate_private_key(public_exponent=RSA_PUBLIC_EXPONENT, key_size=bits)
    if curve is None:
        if size is None:
            name = "P-256"
        elif size < MIN_EC_BITS:
            raise IzumaKeyError("EC keys must be at least %d bits for Izuma Device Management (got %d); choose P-256, P-384 or P-521" % (MIN_EC_BITS, size))
        elif size in _CURVE_BY_SIZE:
            name = _CURVE_BY_SIZE[size]
        else:
            raise IzumaKeyError("EC key size %d does not name a supported curve; choose 256 (P-256), 384 (P-384) or 521 (P-521)" % size)
    else:
        name = _normalize_curve(curve)
        if size is not None and _CURVE_BY_SIZE.get(size) != name:
            raise IzumaKeyError("EC key size %d does not match curve %s; give only the curve" % (size, name))
    return ec.generate_private_key(_curve_object(name))


def _to_text(data: t.Union[bytes, str]) -> str:
    if isinstance(data, str):
        return data
    if isinstance(data, (bytes, bytearray)):
        # latin-1 never fails, so binary (DER) input still reaches the checks below.
        return bytes(data).decode("latin-1")
    raise TypeError("expected bytes or str, got %s" % type(data).__name__)


def _pem_blocks(text: str) -> t.List[t.Tuple[str, str]]:
    """Return (label, full PEM block) pairs found in ``text``."""
    return [(m.group(1), m.group(0)) for m in _PEM_BLOCK_RE.finditer(text)]


def _looks_binary(text: str) -> bool:
    # DER starts with a SEQUENCE tag (0x30) and is rarely printable.
    return text[:1] == "\x30" and any(ord(ch) < 9 or 13 < ord(ch) < 32 or ord(ch) > 126 for ch in text[:64])


def _passphrase_bytes(passphrase: t.Optional[t.Union[str, bytes]]) -> t.Optional[bytes]:
    if passphrase is None:
        return None
    if isinstance(passphrase, str):
        return passphrase.encode("utf-8")
    if isinstance(passphrase, (bytes, bytearray)):
        return bytes(passphrase)
    raise IzumaKeyError("the passphrase must be a string, got %s" % type(passphrase).__name__)


def _private_key_block(text: str, source: str) -> t.Tuple[str, str]:
    """Find the one private key PEM block in ``text`` and return (label, block)."""
    if not text.strip():
        raise IzumaKeyError("%s is empty: give a private key in PEM format (-----BEGIN PRIVATE KEY-----)" % source)
    blocks = _pem_blocks(text)
    keys = [(label, block) for label, block in blocks if label in _PRIVATE_KEY_LABELS]
    if not keys:
        if any(label == "OPENSSH PRIVATE KEY" for label, _block in blocks):
            raise IzumaKeyError("%s is in OpenSSH format; convert it to PKCS#8 PEM first, e.g. with: ssh-keygen -p -m PKCS8 -f FILE" % source)
        if any(label == "CERTIFICATE" for label, _block in blocks):
            raise IzumaKeyError("%s holds a certificate, not a private key: give the private key (-----BEGIN PRIVATE KEY-----)" % source)
        if _looks_binary(text):
            raise IzumaKeyError("%s is binary (DER), not PEM: convert it with: openssl pkey -inform DER -in FILE -out FILE.pem" % source)
        raise IzumaKeyError("%s is not a PEM private key (no -----BEGIN PRIVATE KEY----- block found): give a PEM private key" % source)
    if len(keys) > 1:
        raise IzumaKeyError("%s holds %d private keys; give a file with exactly one" % (source, len(keys)))
    return keys[0]


def private_key_is_encrypted(data: t.Union[bytes, str]) -> bool:
    """Tell whether PEM ``data`` holds a passphrase-protected private key (PKCS#8 or traditional)."""
    text = _to_text(data)
    for label, block in _pem_blocks(text):
        if label == "ENCRYPTED PRIVATE KEY":
            return True
        if label in _PRIVATE_KEY_LABELS and "Proc-Type: 4,ENCRYPTED" in block:
            return True
    return False


def load_private_key(data: t.Union[bytes, str], passphrase: t.Optional[t.Union[str, bytes]] = None, source: str = "private key",
                     enforce_rules: bool = True, ignore_unused_passphrase: bool = False, skip_rsa_validation: bool = False) -> PrivateKey:
    """Load a PEM private key (PKCS#8 or traditional, encrypted or not).

    ``source`` names the input in messages, e.g. a file path or
    ``private_key_content``. Raises IzumaKeyError for input that is empty, not
    PEM, DER, OpenSSH, a certificate, encrypted without a passphrase, or not
    decryptable with the passphrase given. With ``enforce_rules`` (default)
    also for keys Izuma Device Management cannot use (DSA, Ed25519, RSA below
    2048 bits, EC below 256 bits or off the NIST curves).

    A passphrase given for an unencrypted key is refused, because it means the
    caller believes the key is protected when it is not; pass
    ``ignore_unused_passphrase=True`` to accept it silently. An empty
    passphrase counts as no passphrase.

    ``skip_rsa_validation`` skips cryptography's RSA consistency checks (most
    of the cost of parsing an RSA key, where cryptography supports it): only
    for a caller that proves the key another way, as the key source does with
    a sign-and-verify self-test.
    """
    require_cryptography()
    _label, block = _private_key_block(_to_text(data), source)
    password = _passphrase_bytes(passphrase) or None
    encrypted = private_key_is_encrypted(block)
    if encrypted and password is None:
        raise IzumaKeyError("%s is encrypted: give its passphrase with private_key_passphrase" % source)
    if not encrypted and password is not None:
        if not ignore_unused_passphrase:
            raise IzumaKeyError("%s is not encrypted, but a passphrase was given: remove private_key_passphrase, "
                                "or write the key encrypted with that passphrase" % source)
        password = None
    try:
        options = {"unsafe_skip_rsa_key_validation": True} if skip_rsa_validation and CAN_SKIP_RSA_VALIDATION else {}
        key = serialization.load_pem_private_key(block.encode("ascii", "replace"), password=password, **options)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # The library's own message is not shown: it could quote input bytes.
        if encrypted:
            raise IzumaKeyError("%s could not be decrypted: the passphrase in private_key_passphrase is wrong, "
                                "or the key is damaged" % source) from None
        raise IzumaKeyError("%s is not a valid private key: the PEM block is damaged or of an unsupported kind; "
                            "give an RSA or EC private key in PEM format" % source) from None
    if enforce_rules:
        problems = key_problems(key, what=source)
        if problems:
            raise IzumaKeyError(" ".join(problems), **key_description(key))
    return key


def dump_private_key(key: PrivateKey, passphrase: t.Optional[t.Union[str, bytes]] = None) -> bytes:
    """Serialize a private key as PKCS#8 PEM, encrypted with the best available scheme when a passphrase is given.

    An empty passphrase is refused rather than silently writing the key unencrypted.
    """
    require_cryptography()
    password = _passphrase_bytes(passphrase)
    if password is None:
        encryption = serialization.NoEncryption()  # type: t.Any
    elif not password:
        raise IzumaKeyError("the private key passphrase is empty: give a non-empty private_key_passphrase, or omit it to write the key unencrypted")
    else:
        encryption = serialization.BestAvailableEncryption(password)
    if not hasattr(key, "private_bytes"):
        raise IzumaKeyError("expected a private key object to write, got %s" % type(key).__name__)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)

# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one JWT signed by a PKCS#11 key costs, against a PEM file key and against plain python-pkcs11, on each
PKCS#11 implementation the tests know (SoftHSM2, tpm2-pkcs11 on a software TPM; tests/pkcs11/implementations.py).

Not a test: a measurement to run by hand and read (``make pkcs11-benchmark``).

    IZUMA_PKCS11_DIR=build/pkcs11-bench .venv/pkcs11/bin/python benchmarks/pkcs11_cost.py [--rounds N] [--tokens N]

IZUMA_PKCS11_IMPLEMENTATIONS (``softhsm2,tpm2`` unless set; ``library`` with IZUMA_PKCS11_LIBRARY, _TOKEN and _PIN
measures another library) selects the implementations, which are started as the tests start them and measured one
after the other, each with the PEM rows again as the floor of its own block.

For RS256 and PS256 (RSA 2048; PS256 only where the token signs RSA-PSS), RS256 with the largest RSA key the
implementation makes (4096 bits, 3072 on a TPM) and ES256 (P-256) it times, per token, in this one process:

- ``pem pyjwt``: ``jwt.encode`` with a PEM key parsed once (the floor of file keys: signing only);
- ``pem reread``: read and parse the PEM file, then ``jwt.encode``, on every token (a twentieth of the tokens: an
  RSA key's load alone takes tens of milliseconds);
- ``raw pkcs11``: python-pkcs11's ``sign()`` on a JWT-sized signing input with a key object found once (the floor
  of token keys: one C_SignInit + C_Sign; for ES256 the SHA-256 digest is made in Python, as the backend does);
- ``pkcs11 jwt``: ``_tokens.sign_token`` with the token-backed key object of a key pair found once (checks, claims,
  headers, JSON, base64url, and the token's raw signature through the key's ``sign_jws``);
- ``pkcs11 lookup``: what a lookup does per call: ``open_session`` (cached login), ``cached_key_pair`` (the pair
  found on the first call) and its key object, then ``sign_token``;
- ``pkcs11 find``: the same with ``find_key_pair`` on every call (C_FindObjects twice, the public key read again and
  a new key object whose facts are worked out again), to show what the pair cache saves;
- ``lookup pem`` / ``lookup pkcs11``: the ``izuma.device_management.izuma_jwt`` lookup itself, loaded by Ansible's
  plugin loader, with a PEM file key / the token key (``pkcs11_key_label``), one call per token with another subject
  each time (so neither its call cache nor its token cache answers: every call signs);
- ``lookup pkcs11 again``: the same lookup call repeated, as a template re-rendered (answered from its call cache).

Runs are interleaved: each round times every variant once, in a rotated order, so that a slow spell of the machine
spreads over all of them; the report gives the median and the range over the rounds, in microseconds per token.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import sys
import tempfile
import time
import typing as t
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _collection_imports() -> t.Any:
    """The collection's modules (PYTHONPATH must hold the ansible_collections directory, as make sets it)."""
    from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys as _keys  # pylint: disable=import-outside-toplevel
    from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import session as _pkcs11  # pylint: disable=import-outside-toplevel
    from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import key_pairs as _pkcs11_keys  # pylint: disable=import-outside-toplevel
    from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import signing as _pkcs11_signing  # pylint: disable=import-outside-toplevel
    from ansible_collections.izuma.device_management.plugins.module_utils._jwt import signing as _tokens  # pylint: disable=import-outside-toplevel
    return _keys, _pkcs11, _pkcs11_keys, _pkcs11_signing, _tokens


def _lookup() -> t.Any:
    """The izuma_jwt lookup as ansible-playbook gets it: Ansible's plugin loader, over the collection of this tree."""
    from ansible.parsing.dataloader import DataLoader  # pylint: disable=import-outside-toplevel
    from ansible.plugins.loader import lookup_loader  # pylint: disable=import-outside-toplevel

    lookup = lookup_loader.get("izuma.device_management.izuma_jwt", loader=DataLoader(), templar=None)
    assert lookup is not None, "the izuma_jwt lookup was not found: run from the tree make builds (make pkcs11-benchmark)"
    return lookup


def _implementations() -> t.Any:
    """tests/pkcs11/implementations.py: starts SoftHSM2 and tpm2-pkcs11 as the tests do."""
    sys.path.insert(0, os.path.join(COLLECTION_ROOT, "tests", "pkcs11"))
    import implementations  # pylint: disable=import-outside-toplevel
    return implementations


def variants(hsm: t.Any, workdir: str, key_type: str, size: t.Optional[int], curve: t.Optional[str],
             algorithm: str) -> t.Dict[str, t.Callable[[int], None]]:
    """The functions to time for one key type and algorithm on the running implementation ``hsm``, each signing ``n`` tokens."""
    _keys, _pkcs11, _pkcs11_keys, _pkcs11_signing, _tokens = _collection_imports()
    module, token_label, pin = hsm.module, hsm.label, hsm.pin
    token = _pkcs11.open_session(module, _pkcs11.token_ref(token_label), pin)
    label = _pkcs11_keys.key_label("bench-%s-%s" % (key_type, size or curve))
    pair = _pkcs11_keys.find_key_pair(token, label) or _pkcs11_keys.generate_key_pair(token, label, key_type, size, curve)
    file_key = rsa.generate_private_key(65537, size) if key_type == "RSA" else ec.generate_private_key(ec.SECP256R1())
    pem_path = os.path.join(workdir, "%s.pem" % label.replace(":", "_"))
    with open(os.open(pem_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as stream:
        stream.write(_keys.dump_private_key(file_key))
    key = _pkcs11_signing.private_key(pair)
    signing_input = jwt.encode({"sub": "host-0", "iat": 0, "exp": 300}, file_key, algorithm=algorithm).rsplit(".", 1)[0].encode()
    # The hashing mechanism (CKM_SHA*_RSA_PKCS, CKM_SHA*_RSA_PKCS_PSS), the one SoftHSM2 signs RS* and PS* with.
    preferred = _pkcs11_signing._signers(algorithm)[0]  # pylint: disable=protected-access
    mechanism, parameter = preferred.mechanism, preferred.parameter

    def pem_pyjwt(n: int) -> None:
        for number in range(n):
            jwt.encode({"sub": "host-%d" % number, "exp": int(time.time()) + 300}, file_key, algorithm=algorithm)

    def pem_reread(n: int) -> None:
        for number in range(n):
            with open(pem_path, "rb") as stream:
                key = _keys.load_private_key(stream.read(), source=pem_path)
            jwt.encode({"sub": "host-%d" % number, "exp": int(time.time()) + 300}, key, algorithm=algorithm)

    def raw_pkcs11(n: int) -> None:
        import hashlib  # pylint: disable=import-outside-toplevel
        from pkcs11 import Mechanism  # pylint: disable=import-outside-toplevel
        for _number in range(n):
            if algorithm.startswith("ES"):
                pair.private.sign(hashlib.sha256(signing_input).digest(), mechanism=Mechanism.ECDSA)
            else:
                pair.private.sign(signing_input, mechanism=mechanism, mechanism_param=parameter)

    def pkcs11_jwt(n: int) -> None:
        for number in range(n):
            _tokens.sign_token(key, algorithm, subject="host-%d" % number)

    def pkcs11_lookup(n: int) -> None:
        for number in range(n):
            session = _pkcs11.open_session(module, _pkcs11.token_ref(token_label), pin)
            found = _pkcs11_signing.private_key(_pkcs11_keys.cached_key_pair(session, label))
            _tokens.sign_token(found, algorithm, subject="host-%d" % number)

    def pkcs11_find(n: int) -> None:
        for number in range(n):
            session = _pkcs11.open_session(module, _pkcs11.token_ref(token_label), pin)
            found = _pkcs11_signing.private_key(_pkcs11_keys.find_key_pair(session, label))
            _tokens.sign_token(found, algorithm, subject="host-%d" % number)

    lookup = _lookup()
    pkcs11_options = {"pkcs11_key_label": label, "pkcs11_library": module, "pkcs11_token": token_label, "pkcs11_pin": pin,
                      "algorithm": algorithm, "lifetime": 300}

    # A subject never used before on every call, across rounds too: otherwise a later round is a cache hit.
    subjects = itertools.count()

    def lookup_pem(n: int) -> None:
        for _number in range(n):
            lookup.run([], {}, private_key_path=pem_path, algorithm=algorithm, lifetime=300, subject="host-%d" % next(subjects))

    def lookup_pkcs11(n: int) -> None:
        for _number in range(n):
            lookup.run([], {}, subject="host-%d" % next(subjects), **pkcs11_options)

    def lookup_pkcs11_again(n: int) -> None:
        for _number in range(n):
            lookup.run([], {}, subject="host-same", **pkcs11_options)

    # Reading an RSA PEM key costs tens of milliseconds (cryptography checks the key on load): fewer tokens for it.
    pem_reread.share = 20  # type: ignore[attr-defined]
    return {"pem pyjwt": pem_pyjwt, "pem reread": pem_reread, "raw pkcs11": raw_pkcs11, "pkcs11 jwt": pkcs11_jwt,
            "pkcs11 lookup": pkcs11_lookup, "pkcs11 find": pkcs11_find,
            "lookup pem": lookup_pem, "lookup pkcs11": lookup_pkcs11, "lookup pkcs11 again": lookup_pkcs11_again}


def measure(functions: t.Dict[str, t.Callable[[int], None]], rounds: int, tokens: int) -> t.Dict[str, t.List[float]]:
    """Microseconds per token of each function, one figure per round, rounds interleaved in a rotating order."""
    names = list(functions)
    counts = {name: max(2, tokens // getattr(functions[name], "share", 1)) for name in names}
    for name in names:  # warm-up: first calls, caches, page faults
        functions[name](max(1, counts[name] // 10))
    results = {name: [] for name in names}  # type: t.Dict[str, t.List[float]]
    for round_number in range(rounds):
        order = names[round_number % len(names):] + names[:round_number % len(names)]
        for name in order:
            start = time.perf_counter()
            functions[name](counts[name])
            results[name].append((time.perf_counter() - start) / counts[name] * 1e6)
    return results


def cases(profile: t.Any) -> t.List[t.Tuple[str, t.Optional[int], t.Optional[str], str]]:
    """What to measure on an implementation: RS256 and (where it signs RSA-PSS) PS256 with RSA 2048, RS256 with its
    largest RSA key, ES256."""
    largest = max(spec[1] for spec in profile.key_specs if spec[0] == "RSA")
    return ([("RSA", 2048, None, "RS256")] + ([("RSA", 2048, None, "PS256")] if profile.signs("PS256") else [])
            + ([("RSA", largest, None, "RS256")] if largest != 2048 else []) + [("EC", None, "P-256", "ES256")])


def _end(hsm: t.Any) -> None:
    """Close this process's sessions on the implementation's module, then stop its daemons. In the user's own token,
    destroy the key pairs the benchmark made first (the tests refuse a token that holds izuma:* keys)."""
    _keys, _pkcs11, _pkcs11_keys, *_rest = _collection_imports()
    if hsm.root is None:
        session = _pkcs11.open_session(hsm.module, _pkcs11.token_ref(hsm.label), hsm.pin)
        for key_type, size, curve, _algorithm in cases(hsm.profile):
            _pkcs11_keys.destroy_key_pair(session, _pkcs11_keys.key_label("bench-%s-%s" % (key_type, size or curve)))
    for physical in [key for key, entry in _pkcs11._SESSIONS.items() if entry.library_path == os.path.realpath(hsm.module)]:  # pylint: disable=protected-access
        _pkcs11._SESSIONS.pop(physical).close()  # pylint: disable=protected-access
    hsm.stop()


def _version(distribution: str) -> str:
    from importlib.metadata import version  # pylint: disable=import-outside-toplevel
    return version(distribution)


def main() -> int:
    """Run the measurement and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--tokens", type=int, default=200, help="tokens per variant per round")
    args = parser.parse_args()
    # Ansible's collection loader, before the first import of the collection, so that the lookup and the modules
    # imported here are the same modules (the tree's ansible_collections directory, which PYTHONPATH also names).
    from ansible.plugins.loader import init_plugin_loader  # pylint: disable=import-outside-toplevel
    init_plugin_loader([os.path.dirname(os.path.dirname(os.path.dirname(COLLECTION_ROOT)))])
    implementations = _implementations()
    configured = os.environ.get("IZUMA_PKCS11_DIR")
    base = os.path.abspath(configured or tempfile.mkdtemp(prefix="izuma-pkcs11-bench-"))
    environ = dict(os.environ)
    for name in implementations.LIBRARY_VARIABLES:
        os.environ.pop(name, None)  # as the tests do: the library, token and PIN are passed explicitly
    workdir = tempfile.mkdtemp(prefix="izuma-pkcs11-bench-")
    print("python %s, python-pkcs11 %s, %d rounds x %d tokens per variant (a fifth for RSA above 2048 bits)"
          % (sys.version.split()[0], _version("python-pkcs11"), args.rounds, args.tokens))
    print("%-9s %-20s %-20s %12s %22s" % ("token", "key / algorithm", "variant", "median us", "range us"))
    try:
        for name in implementations.selected(environ):
            shutil.rmtree(Path(base) / name, ignore_errors=True)
            hsm = implementations.start(name, Path(base) / name, environ)
            try:
                for key_type, size, curve, algorithm in cases(hsm.profile):
                    tokens = args.tokens if size in (None, 2048) else max(10, args.tokens // 5)
                    results = measure(variants(hsm, workdir, key_type, size, curve, algorithm), args.rounds, tokens)
                    case = "%s %s %s" % (key_type, size or curve, algorithm)
                    for variant, values in results.items():
                        figures = (statistics.median(values), min(values), max(values))
                        print("%-9s %-20s %-20s %12.1f %10.1f - %9.1f" % ((name, case, variant) + figures), flush=True)
            finally:
                _end(hsm)
        _keys, _pkcs11, *_rest = _collection_imports()
        print("logins in this process: %d" % _pkcs11.STATS["logins"])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if not configured:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

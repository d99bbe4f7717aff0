# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one JWT signed by a PKCS#11 key (SoftHSM2) costs, against a PEM file key and against plain python-pkcs11.

Not a test: a measurement to run by hand and read (``make pkcs11-benchmark``).

    IZUMA_SOFTHSM_DIR=build/softhsm-bench .venv/pkcs11/bin/python benchmarks/pkcs11_cost.py [--rounds N] [--tokens N]

For RS256 and PS256 (RSA 2048), RS256 (RSA 4096) and ES256 (P-256) it times, per token, in this one process:

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
import subprocess
import sys
import tempfile
import time
import typing as t

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PIN = "benchmark-pin"


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


def prepare_softhsm(root: str) -> str:
    """A fresh SoftHSM2 configuration and token under ``root``; returns the module path."""
    module = subprocess.run([os.path.join(COLLECTION_ROOT, "hack", "install-softhsm.sh")], check=True, capture_output=True,
                            text=True).stdout.split()[-1]
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(os.path.join(root, "tokens"))
    conf = os.path.join(root, "softhsm2.conf")
    with open(conf, "w", encoding="utf-8") as stream:
        stream.write("directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n" % root)
    os.environ["SOFTHSM2_CONF"] = conf
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "bench", "--so-pin", "so-" + PIN, "--pin", PIN],
                   check=True, capture_output=True)
    return module


def variants(module: str, workdir: str, key_type: str, size: t.Optional[int], curve: t.Optional[str],
             algorithm: str) -> t.Dict[str, t.Callable[[int], None]]:
    """The functions to time for one key type and algorithm, each signing ``n`` tokens."""
    _keys, _pkcs11, _pkcs11_keys, _pkcs11_signing, _tokens = _collection_imports()
    ref = _pkcs11.token_ref("bench")
    token = _pkcs11.open_session(module, ref, PIN)
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
            session = _pkcs11.open_session(module, _pkcs11.token_ref("bench"), PIN)
            found = _pkcs11_signing.private_key(_pkcs11_keys.cached_key_pair(session, label))
            _tokens.sign_token(found, algorithm, subject="host-%d" % number)

    def pkcs11_find(n: int) -> None:
        for number in range(n):
            session = _pkcs11.open_session(module, _pkcs11.token_ref("bench"), PIN)
            found = _pkcs11_signing.private_key(_pkcs11_keys.find_key_pair(session, label))
            _tokens.sign_token(found, algorithm, subject="host-%d" % number)

    lookup = _lookup()
    pkcs11_options = {"pkcs11_key_label": label, "pkcs11_library": module, "pkcs11_token": "bench", "pkcs11_pin": PIN,
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
    root = os.path.abspath(os.environ.get("IZUMA_SOFTHSM_DIR") or tempfile.mkdtemp(prefix="izuma-softhsm-bench-"))
    module = prepare_softhsm(root)
    workdir = tempfile.mkdtemp(prefix="izuma-pkcs11-bench-")
    try:
        cases = [("RSA", 2048, None, "RS256"), ("RSA", 2048, None, "PS256"), ("RSA", 4096, None, "RS256"), ("EC", None, "P-256", "ES256")]
        print("python %s, SoftHSM2 at %s, %d rounds x %d tokens per variant" % (sys.version.split()[0], module, args.rounds, args.tokens))
        print("%-20s %-15s %12s %22s" % ("key / algorithm", "variant", "median us", "range us"))
        for key_type, size, curve, algorithm in cases:
            tokens = args.tokens if size != 4096 else max(10, args.tokens // 5)
            results = measure(variants(module, workdir, key_type, size, curve, algorithm), args.rounds, tokens)
            case = "%s %s %s" % (key_type, size or curve, algorithm)
            for name, values in results.items():
                print("%-20s %-15s %12.1f %10.1f - %9.1f" % (case, name, statistics.median(values), min(values), max(values)))
        _keys, _pkcs11, *_rest = _collection_imports()
        print("logins in this process: %d" % _pkcs11.STATS["logins"])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one token from the izuma_jwt lookup costs, against plain PyJWT and against re-reading the key each time.

Not a test: a measurement to run by hand and read.

    .venv/2.19/bin/python benchmarks/lookup_cost.py [--iterations N] [--hosts N]

For RS256 (RSA 2048), ES256 (P-256) and RS256 with a passphrase-protected key, it
times, per token, in this one process:

- ``pyjwt``: ``jwt.encode`` with a key object parsed once (the floor: signing only);
- ``reread``: read the key file, parse it, then ``jwt.encode``, on every call (what a
  lookup without a key cache does, e.g. community.general's github_app_access_token);
- ``lookup new``: the izuma_jwt lookup asked for a new token each time (one per host,
  each with its own ``sub``): key from the cache, checks, signing;
- ``lookup reuse``: the izuma_jwt lookup asked again with the same options (a template
  that uses the token several times, or a loop): the cached token is returned;
- ``core new`` and ``core reuse``: the same two without Ansible's option resolution
  (``set_options``), i.e. the collection's own part: _key_source.load_signing_key (key
  cache), _jwt_plugin.sign_options and _jwt_plugin.TOKEN_CACHE.get_or_sign.

The lookup is loaded by Ansible's plugin loader from this checkout, with its real
option handling (``set_options``), as a playbook would use it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import typing as t

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSPHRASE = b"benchmark passphrase"


def collections_path(workdir: str) -> str:
    """A directory holding ansible_collections/izuma/device_management: the enclosing one, or a symlink made in ``workdir``."""
    parts = COLLECTION_ROOT.split(os.sep)
    if parts[-3:-2] == ["ansible_collections"]:
        return os.sep.join(parts[:-3])
    namespace = os.path.join(workdir, "ansible_collections", "izuma")
    os.makedirs(namespace)
    os.symlink(COLLECTION_ROOT, os.path.join(namespace, "device_management"))
    return workdir


def load_lookup(path: str) -> t.Any:
    """The izuma_jwt lookup, through Ansible's plugin loader."""
    from ansible.parsing.dataloader import DataLoader  # pylint: disable=import-outside-toplevel
    from ansible.plugins.loader import init_plugin_loader, lookup_loader  # pylint: disable=import-outside-toplevel

    init_plugin_loader([path])
    lookup = lookup_loader.get("izuma.device_management.izuma_jwt", loader=DataLoader(), templar=None)
    if lookup is None:
        raise SystemExit("could not load the izuma_jwt lookup from %s" % path)
    return lookup


def per_call(func: t.Callable[[int], t.Any], iterations: int) -> float:
    """Microseconds per call of ``func(i)``, over ``iterations`` calls after one warm-up call."""
    func(-1)
    start = time.perf_counter()
    for index in range(iterations):
        func(index)
    return (time.perf_counter() - start) / iterations * 1e6


def measure(lookup: t.Any, core_modules: t.Tuple[t.Any, t.Any], algorithm: str, key: t.Any, passphrase: t.Optional[bytes], path: str,
            iterations: int, hosts: int) -> t.Dict[str, float]:
    """Time the six ways of getting a token with ``key`` (written to ``path``), and a loop over ``hosts`` hosts."""
    key_source, jwt_plugin = core_modules
    encryption = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    with open(path, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    options = {"private_key_path": path, "algorithm": algorithm, "lifetime": 600}  # type: t.Dict[str, t.Any]
    if passphrase:
        options["private_key_passphrase"] = passphrase.decode()

    def pyjwt(index: int) -> str:
        now = int(time.time())
        return jwt.encode({"sub": "host-%d" % index, "iat": now, "exp": now + 600}, key, algorithm=algorithm)

    def reread(index: int) -> str:
        with open(path, "rb") as handle:
            fresh = serialization.load_pem_private_key(handle.read(), password=passphrase)
        now = int(time.time())
        return jwt.encode({"sub": "host-%d" % index, "iat": now, "exp": now + 600}, fresh, algorithm=algorithm)

    def lookup_new(index: int) -> str:
        return lookup.run([], {}, subject="host-%d" % index, **options)[0]

    def lookup_reuse(index: int) -> str:
        return lookup.run([], {}, subject="same-host", **options)[0]

    def core(subject: str) -> str:
        signing_key = key_source.load_signing_key(path, passphrase=passphrase)
        sign = jwt_plugin.sign_options({"algorithm": algorithm, "lifetime": 600, "subject": subject}.get)
        return jwt_plugin.TOKEN_CACHE.get_or_sign(signing_key, **sign)

    key_source.SIGNING_KEY_CACHE.clear()
    jwt_plugin.TOKEN_CACHE.clear()
    timings = {
        "pyjwt": per_call(pyjwt, iterations),
        "reread": per_call(reread, iterations),
        "lookup new": per_call(lookup_new, iterations),
        "lookup reuse": per_call(lookup_reuse, iterations),
        "core new": per_call(lambda index: core("core-host-%d" % index), iterations),
        "core reuse": per_call(lambda index: core("core-same-host"), iterations),
    }
    # One task looping over many hosts, a token each: the whole loop, key parsed once.
    key_source.SIGNING_KEY_CACHE.clear()
    start = time.perf_counter()
    for index in range(hosts):
        lookup_new(index)
    timings["loop total ms"] = (time.perf_counter() - start) * 1e3
    return timings


def main() -> int:
    """Run the measurements and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--iterations", type=int, default=300, help="calls per measurement (default 300)")
    parser.add_argument("--hosts", type=int, default=1000, help="tokens in the one-per-host loop (default 1000)")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="izuma-jwt-bench-")
    lookup = load_lookup(collections_path(workdir))
    # pylint: disable-next=import-outside-toplevel
    from ansible_collections.izuma.device_management.plugins.module_utils import _key_source as key_source
    from ansible_collections.izuma.device_management.plugins.plugin_utils import _jwt_plugin as jwt_plugin  # pylint: disable=import-outside-toplevel

    cases = [
        ("RS256", "RSA 2048", rsa.generate_private_key(public_exponent=65537, key_size=2048), None),
        ("ES256", "EC P-256", ec.generate_private_key(ec.SECP256R1()), None),
        ("RS256", "RSA 2048, encrypted", rsa.generate_private_key(public_exponent=65537, key_size=2048), PASSPHRASE),
    ]
    rows = []
    for algorithm, label, key, passphrase in cases:
        iterations = max(args.iterations // 10, 10) if passphrase else args.iterations
        path = os.path.join(workdir, "%s-%d.pem" % (algorithm, len(rows)))
        rows.append((label, algorithm, iterations, measure(lookup, (key_source, jwt_plugin), algorithm, key, passphrase, path, iterations, args.hosts)))

    print("izuma_jwt lookup: cost per token (microseconds; lower is better), %s" % sys.version.split()[0])
    header = "%-20s %-5s %5s %8s %9s %10s %12s %9s %10s %9s %10s  %s" % (
        "key", "alg", "calls", "pyjwt", "reread", "lookup new", "lookup reuse", "core new", "core reuse", "new/pyjwt",
        "reread/new", "%d hosts, one loop" % args.hosts)
    print(header)
    print("-" * len(header))
    for label, algorithm, iterations, timings in rows:
        print("%-20s %-5s %5d %8.1f %9.1f %10.1f %12.1f %9.1f %10.1f %8.2fx %9.1fx  %.0f ms" % (
            label, algorithm, iterations, timings["pyjwt"], timings["reread"], timings["lookup new"], timings["lookup reuse"],
            timings["core new"], timings["core reuse"], timings["lookup new"] / timings["pyjwt"],
            timings["reread"] / timings["lookup new"], timings["loop total ms"]))
    print()
    print("pyjwt: jwt.encode with a parsed key; reread: read+parse the key file, then jwt.encode (no cache);")
    print("lookup new: izuma_jwt lookup, a new sub each call (cached key, new signature);")
    print("lookup reuse: izuma_jwt lookup, same options again (cached token);")
    print("core new/reuse: the same without Ansible's option resolution (set_options), the collection's own cost.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

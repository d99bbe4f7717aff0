# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one token from the izuma_jwt lookup costs, against plain PyJWT and against re-reading the key each time.

Not a test: a measurement to run by hand and read.

    .venv/2.19/bin/python benchmarks/lookup_cost.py [--iterations N] [--hosts N] [--rounds N] [--clock wall|cpu]

For RS256 (RSA 2048), ES256 (P-256) and RS256 with a passphrase-protected key, it
times, per token, in this one process:

- ``pyjwt``: ``jwt.encode`` with a key object parsed once (the floor: signing only);
- ``reread``: read the key file, parse it, then ``jwt.encode``, on every call (what a
  lookup without a key cache does, e.g. community.general's github_app_access_token);
- ``lookup new``: the izuma_jwt lookup asked for a new token each time (one per host,
  each with its own ``sub``): key from the cache, checks, signing;
- ``lookup reuse``: the izuma_jwt lookup asked again with the same options (a template
  that uses the token several times, or a loop): the cached token is returned;
- ``env``: Ansible's builtin ``env`` lookup through the same lookup loader (the floor of any lookup);
- ``core new`` and ``core reuse``: the same two without Ansible's option resolution
  (``set_options``), i.e. the collection's own part: _key_source.load_signing_key (key
  cache), _jwt_plugin.sign_options and _jwt_plugin.TOKEN_CACHE.get_or_sign_window.

The lookup is loaded by Ansible's plugin loader from this checkout, with its real
option handling (``set_options``), as a playbook would use it. The measurements are
interleaved: ``--rounds`` rounds, each timing every way once in a random order, so that
a slow moment of the machine hits all of them alike. Times are medians over the rounds;
two ratios are printed as the median and range of their per-round ratios: a new token
against PyJWT signing plus the ``env`` lookup, a reused token against the ``env`` lookup.
Called directly like this, the lookup's ``set_options`` (a few hundred microseconds for
its two dozen options) outweighs an ES256 signature many times over. The bound on the
lookup's cost is measured where users call it, in a template rendered by Ansible's
Templar: ``make bench BENCH_ARGS="--sections lookup"`` (benchmarks/bench.py).
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
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


def load_lookups(path: str) -> t.Tuple[t.Any, t.Any]:
    """The izuma_jwt lookup and the builtin env lookup, through Ansible's plugin loader."""
    from ansible.parsing.dataloader import DataLoader  # pylint: disable=import-outside-toplevel
    from ansible.plugins.loader import init_plugin_loader, lookup_loader  # pylint: disable=import-outside-toplevel

    init_plugin_loader([path])
    lookup = lookup_loader.get("izuma.device_management.izuma_jwt", loader=DataLoader(), templar=None)
    if lookup is None:
        raise SystemExit("could not load the izuma_jwt lookup from %s" % path)
    return lookup, lookup_loader.get("ansible.builtin.env", loader=DataLoader(), templar=None)


# The clock of every measurement: wall time (perf_counter), or with --clock cpu this process's CPU time (process_time),
# which a busy machine disturbs less (time spent waiting for a core is not counted; the work is all on one thread).
CLOCK = time.perf_counter


def per_call(func: t.Callable[[int], t.Any], iterations: int) -> float:
    """Microseconds per call of ``func(i)``, over ``iterations`` calls after one warm-up call."""
    func(-1)
    start = CLOCK()
    for index in range(iterations):
        func(index)
    return (CLOCK() - start) / iterations * 1e6


def measure(lookups: t.Tuple[t.Any, t.Any], core_modules: t.Tuple[t.Any, t.Any], algorithm: str, key: t.Any,
            passphrase: t.Optional[bytes], path: str, iterations: int, hosts: int, rounds: int) -> t.Dict[str, t.Any]:
    """Time the ways of getting a token with ``key`` (written to ``path``), interleaved, and a loop over ``hosts`` hosts."""
    lookup, env_lookup = lookups
    key_source, jwt_plugin = core_modules
    # Every "new" call signs for a subject never used before, in any round.
    fresh = itertools.count()
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

    def lookup_new(_index: int) -> str:
        return lookup.run([], {}, subject="host-%d" % next(fresh), **options)[0]

    def env(_index: int) -> str:
        return env_lookup.run(["HOME"], {})[0]

    def lookup_reuse(index: int) -> str:
        return lookup.run([], {}, subject="same-host", **options)[0]

    def core(subject: str) -> str:
        signing_key = key_source.load_signing_key(path, passphrase=passphrase)
        sign = jwt_plugin.sign_options({"algorithm": algorithm, "lifetime": 600, "subject": subject}.get)
        return jwt_plugin.TOKEN_CACHE.get_or_sign_window(signing_key, **sign)[0]

    key_source.SIGNING_KEY_CACHE.clear()
    jwt_plugin.TOKEN_CACHE.clear()
    ways = {
        "pyjwt": pyjwt,
        "env": env,
        "reread": reread,
        "lookup new": lookup_new,
        "lookup reuse": lookup_reuse,
        "core new": lambda _index: core("core-host-%d" % next(fresh)),
        "core reuse": lambda _index: core("core-same-host"),
    }  # type: t.Dict[str, t.Callable[[int], t.Any]]
    samples = {name: [] for name in ways}  # type: t.Dict[str, t.List[float]]
    for _round in range(rounds):
        order = list(ways)
        random.shuffle(order)
        for name in order:
            samples[name].append(per_call(ways[name], iterations))
    timings = {name: statistics.median(values) for name, values in samples.items()}  # type: t.Dict[str, t.Any]
    timings["new ratios"] = [new / (signing + floor) for new, signing, floor in zip(samples["lookup new"], samples["pyjwt"], samples["env"])]
    timings["reuse ratios"] = [reuse / floor for reuse, floor in zip(samples["lookup reuse"], samples["env"])]
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
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds (default 9)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall time (default), or this process's CPU time, steadier on a busy machine")
    args = parser.parse_args()
    global CLOCK  # pylint: disable=global-statement
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter

    workdir = tempfile.mkdtemp(prefix="izuma-jwt-bench-")
    lookups = load_lookups(collections_path(workdir))
    # pylint: disable-next=import-outside-toplevel
    from ansible_collections.izuma.device_management.plugins.module_utils._jwt import key_source
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
        rows.append((label, algorithm, iterations, measure(lookups, (key_source, jwt_plugin), algorithm, key, passphrase, path, iterations,
                                                           args.hosts, args.rounds)))

    print("izuma_jwt lookup: cost per token (microseconds of %s time; lower is better), %s" % (args.clock, sys.version.split()[0]))
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
    print()
    print("Ratios (median and range of the %d interleaved rounds; the bound is measured in a template: bench.py --sections lookup):"
          % args.rounds)
    for label, algorithm, _iterations, timings in rows:
        print("%-20s %-5s env %.1f us; new / (pyjwt + env) %s; reuse / env %s" % (
            label, algorithm, timings["env"], spread(timings["new ratios"]), spread(timings["reuse ratios"])))
    return 0


def spread(ratios: t.List[float]) -> str:
    """``median x (min-max)`` of per-round ratios."""
    return "%.2fx (%.2f-%.2f)" % (statistics.median(ratios), min(ratios), max(ratios))


if __name__ == "__main__":
    sys.exit(main())

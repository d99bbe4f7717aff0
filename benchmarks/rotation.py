#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wall time of the jwt_rotation role: one rotation of 2 applications across 20 hosts, and a converged re-run.

Not a test: ``make rotation-benchmark`` (or ``python benchmarks/rotation.py`` in a collection tree, with the tools
environment's Python). The hosts are this machine (ansible_connection=local), so the numbers measure the role, the
modules and Ansible's per-task cost on this machine, against the local emulator; real hosts over SSH add their
connection time.

1. first setup (2 applications, 20 tokens) - timed, for reference;
2. a forced rotation: new keys, 20 new tokens, 20 verification calls, the old keys retired early (every host verified);
3. a converged re-run: nothing to do.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "rotation"), str(ROOT / "tests" / "emulator")]

from fleet import Fleet, recap_changes  # noqa: E402  pylint: disable=wrong-import-position
from izuma_emulator.testing import Emulator  # noqa: E402  pylint: disable=wrong-import-position


def timed(fleet: Fleet, label: str, *args: str) -> float:
    """Run the rotation playbook once; print and return its wall time."""
    start = time.monotonic()
    status, output = fleet.run("jwt_rotation.yml", *args)
    elapsed = time.monotonic() - start
    if status != 0:
        sys.exit("%s failed:\n%s" % (label, output[-4000:]))
    changes = sum(recap_changes(output).values())
    print("%-44s %6.1f s  (%d tasks changed)" % (label, elapsed, changes), flush=True)
    return elapsed


def main() -> None:
    """Set up, rotate, re-run; print the wall times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=20, help="hosts in all, split between the two applications")
    parser.add_argument("--forks", type=int, default=10)
    args = parser.parse_args()
    half = args.hosts // 2
    applications = {
        "bench-telemetry": ["bench-c%02d" % i for i in range(1, half + 1)],
        "bench-gateway": ["bench-g%02d" % i for i in range(1, args.hosts - half + 1)],
    }
    print("jwt_rotation: 2 applications, %d hosts, forks=%d, %d CPUs, load average %.1f"
          % (args.hosts, args.forks, os.cpu_count() or 0, os.getloadavg()[0]), flush=True)
    with Emulator() as emulator, tempfile.TemporaryDirectory(prefix="rotation-benchmark-") as workdir:
        fleet = Fleet(Path(workdir), emulator, applications)
        forks = ("--forks", str(args.forks))
        timed(fleet, "first setup", *forks)
        timed(fleet, "rotation (new keys, tokens, verify, retire)", "-e", "jwt_rotation_force=true", *forks)
        timed(fleet, "converged re-run", *forks)
        if fleet.refused_hosts():
            sys.exit("hosts hold refused tokens: %s" % fleet.refused_hosts())


if __name__ == "__main__":
    main()

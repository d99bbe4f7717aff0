# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline stand-in for the get-pip.py script that ansible-test downloads.

ansible-test bootstraps pip in each virtual environment it creates by running a
get-pip.py script fetched from a host this machine cannot reach. This script
does the same job with the standard library's ensurepip, then lets pip install
the exact packages ansible-test asked for (for example ``pip==24.2``).

ensurepip sets PIP_CONFIG_FILE to os.devnull in this process; it is removed
again so that the machine's own pip configuration (index, find-links,
certificates) applies to the real install.
"""

from __future__ import annotations

import ensurepip
import os
import subprocess
import sys

# get-pip.py accepts these, pip install does not.
GET_PIP_ONLY_OPTIONS = {"--no-setuptools", "--no-wheel"}


def main() -> int:
    """Bootstrap pip, then install what ansible-test requested."""
    ensurepip.bootstrap(upgrade=True)
    os.environ.pop("PIP_CONFIG_FILE", None)
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    return subprocess.call([sys.executable, "-m", "pip", "install"] + args)


if __name__ == "__main__":
    sys.exit(main())

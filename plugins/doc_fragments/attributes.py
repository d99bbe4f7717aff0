# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Attributes shared by the collection's modules."""

from __future__ import annotations


class ModuleDocFragment:
    """Use C(izuma.device_management.attributes), plus C(.info_module) for read-only modules or C(.writes) for the others."""

    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
  action_group:
    description: Use C(group/izuma.device_management.izuma) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - izuma.device_management.izuma
"""

    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
"""

    WRITES = r"""
options: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
"""

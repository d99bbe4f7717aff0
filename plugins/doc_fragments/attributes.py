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
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
    details:
      - When the task runs on the controller as the controller's own user (the C(local) connection, a task delegated to
        C(localhost) included, no C(become), no C(async), and C(ansible_python_interpreter) unset or the controller's own
        Python, as for the implicit C(localhost)) and the controller can import what the module needs (C(requests),
        C(cryptography), and C(python-pkcs11) for a key in a PKCS#11 token), the action plugin runs the module's code in
        the controller process instead of sending the module. Options (with C(module_defaults), the action group and the
        environment fallbacks, which read the controller's environment and the task's C(environment)), results, check
        and diff mode, warnings, errors, C(no_log) and the owner and mode of files written are the same; only the
        module's own log line in the host's syslog is not written.
      - Everywhere else (a remote host, C(become), another Python chosen in C(ansible_python_interpreter), C(async), a
        missing library) the module runs as usual. Run with C(-vvv) to see which path a task took.
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

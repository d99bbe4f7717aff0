# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a module names the application it works on, said once."""

from __future__ import annotations


class ModuleDocFragment:
    """C(izuma.device_management.application) for modules that change one application's keys; C(.filter) for the _info modules."""

    DOCUMENTATION = r"""
options:
  application:
    description: Name of the application the key belongs to. One of O(application) and O(application_id) is required.
    type: str
  application_id:
    description: ID of the application the key belongs to (saves one list request per run).
    type: str
"""

    FILTER = r"""
options:
  application:
    description: Name of the application whose keys to list. Without O(application) and O(application_id), every application's keys are listed.
    type: str
  application_id:
    description: ID of the application whose keys to list.
    type: str
  name:
    description: Only keys with this name.
    type: str
"""

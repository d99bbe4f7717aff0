# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""The core of izuma_access_key and izuma_access_key_info: an application's access key (``ak_...``), created,
edited, rotated with a grace period and deleted, its secret written once to ``dest`` (plain or Ansible Vault), so
that a run killed at any point converges when run again and no secret reaches a result, diff, warning or error.

The flow of a run, one module a step:

* ``options``: the argument spec and the desired state (``Desired``, whose head and rotation policy are
  ``_rotation_policy.RotatedKey``), checked before any request;
* ``state``: ``observe``, the only step that reads: the application's access keys, and the secret files at
  ``dest`` and ``dest.previous`` matched to their keys (``files``: secret files, sidecars, Vault);
* ``plan``: from (observed, desired) to a typed plan (nothing is read): create, edit, rotate, retire, replace an
  orphan whose secret nobody has, delete;
* ``changes``: the typed changes, each applying itself (``apply``) in the plan's order, which is the crash safety;
* ``converge``: options -> state (observe) -> plan -> changes (apply) -> the module's result, under a lock on
  ``<dest>.lock``; and ``info`` for izuma_access_key_info.
"""

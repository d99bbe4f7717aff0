# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""The core of izuma_verification_key and izuma_verification_key_info: a JWT verification key of an application,
its private key (PEM files, or key pairs in a PKCS#11 token) and its certificate, created, renewed, rotated within
the two-key limit with a grace period, retired and deleted, so that a run killed at any point converges when run again.

The flow of a run, one module a step:

* ``options``: the argument spec and the desired state (``Desired``, whose head and rotation policy are
  ``_rotation_policy.RotatedKey``), checked before anything is read;
* ``state``: the file and name conventions, the API's view, and ``observe``, the only step that reads (the uploaded
  keys, the private keys through the key store, the certificate files, and the CA or request of ``issuers``);
* ``plan``: the ``Planner`` made from (observed, desired), which builds a typed plan and reads nothing: state=absent
  there, state=present in ``present`` (create, upload, edit, renew), the rotation steps in ``rotation``, the
  certificate-issuing decisions in ``plan`` beside the planner;
* ``changes``: the typed changes, each applying itself (``apply``) in the plan's order, which is the crash safety;
  ``file_store`` and ``pkcs11_store`` make the changes that touch the private keys, behind one ``KeyStore``;
* ``converge``: options -> state (observe) -> plan -> changes (apply) -> the module's result, under a lock per key,
  with the key store of the task's key_backend (``store_for``); and ``info`` for izuma_verification_key_info.
"""

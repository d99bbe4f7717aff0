# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PKCS#11 key source options, shared by everything that signs with a key inside a PKCS#11 token."""

from __future__ import annotations


class ModuleDocFragment:
    """Use C(izuma.device_management.pkcs11) in modules; add C(izuma.device_management.pkcs11.plugins) in lookups.

    DOCUMENTATION has the option texts once; PLUGINS adds where else a lookup may take each option from.
    """

    DOCUMENTATION = r"""
options:
  pkcs11_library:
    description:
      - Path of the PKCS#11 module (the vendor's shared library) on the host that signs, for example
        C(/usr/lib/softhsm/libsofthsm2.so) for SoftHSM2, C(/opt/cloudhsm/lib/libcloudhsm_pkcs11.so) for AWS CloudHSM,
        or C(libkmsp11.so) for Google Cloud KMS.
      - If not set, the value of the E(IZUMA_PKCS11_LIBRARY) environment variable is used.
    type: path
  pkcs11_token:
    description:
      - The token that holds the key, by its label, or an RFC 7512 C(pkcs11:) URI (for example
        C(pkcs11:token=izuma;serial=1a2b3c4d)). A URI may not carry C(pin-value).
      - If neither this nor O(pkcs11_serial) is given, the library must have exactly one initialised token (an uninitialised
        token, such as the free slot SoftHSM2 and tpm2-pkcs11 always list, is never chosen).
      - If not set, the value of the E(IZUMA_PKCS11_TOKEN) environment variable is used.
    type: str
  pkcs11_serial:
    description:
      - The serial number of the token, when labels are not unique.
      - If not set, the value of the E(IZUMA_PKCS11_SERIAL) environment variable is used.
    type: str
  pkcs11_pin:
    description:
      - The token's user PIN. It is never logged, returned or written.
      - If not set, the value of the E(IZUMA_PKCS11_PIN) environment variable is used (an AWX credential of the type
        this collection ships injects it).
      - A wrong PIN fails the task before anything is signed or changed.
    type: str
  pkcs11_key_label:
    description:
      - The CKA_LABEL of the private key object in the token that signs. Giving it selects the PKCS#11 key source.
      - M(izuma.device_management.izuma_verification_key) with O(izuma.device_management.izuma_verification_key#module:key_backend=pkcs11)
        names its keys C(izuma:<name>:current) (and C(:next), C(:previous) during a rotation) and returns the current
        label as RV(izuma.device_management.izuma_verification_key#module:pkcs11_key_label).
    type: str
requirements:
  # Word for word the python-pkcs11 line of connection.py: a module with both fragments then lists it once.
  - python-pkcs11 0.10 or later and a PKCS#11 module on the host that signs (to use a key in a PKCS#11 token)
"""

    PLUGINS = r"""
options:
  pkcs11_library:
    env:
      - name: IZUMA_PKCS11_LIBRARY
    vars:
      - name: izuma_jwt_pkcs11_library
    ini:
      - section: izuma_jwt
        key: pkcs11_library
  pkcs11_token:
    env:
      - name: IZUMA_PKCS11_TOKEN
    vars:
      - name: izuma_jwt_pkcs11_token
    ini:
      - section: izuma_jwt
        key: pkcs11_token
  pkcs11_serial:
    env:
      - name: IZUMA_PKCS11_SERIAL
    vars:
      - name: izuma_jwt_pkcs11_serial
  pkcs11_pin:
    env:
      - name: IZUMA_PKCS11_PIN
    vars:
      - name: izuma_jwt_pkcs11_pin
  pkcs11_key_label:
    vars:
      - name: izuma_jwt_pkcs11_key_label
"""

# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Keys inside a PKCS#11 token (an HSM, SoftHSM2, a cloud key service's PKCS#11 library), through python-pkcs11.

``options`` (the pkcs11_* options every signer takes; no python-pkcs11 import, so that it is imported only when a
PKCS#11 key is configured); ``errors`` (the error type, and the PKCS#11 return values, CKR_* name and number, that
messages quote); ``slots`` (which initialised token a label, serial or URI means); ``session`` (find the token, log in
once per process, the token's mechanisms read once); ``generation`` (the mechanism a key needs, the sign-only key
template and the token-default fallback); ``key_pairs`` (generate, find, describe, relabel with a read-back, destroy
key pairs by label); ``signing`` (JWS signatures in the token with mechanism fallbacks, and a ``cryptography`` private
key object that signs in the token, so that the token and certificate code written for key files signs with it).
"""

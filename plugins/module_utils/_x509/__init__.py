# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Keys and X.509 certificates for verification keys, on the ``cryptography`` library.

Imports flow one way: ``keys`` (generate, load, dump, describe private keys and check them against the product's
key rules) <- ``certificates`` (load, write, describe and check certificates against the upload rules; public keys
read from PEM) <- ``issuing`` (make certificates and signing requests, imported only where something is issued).
"""

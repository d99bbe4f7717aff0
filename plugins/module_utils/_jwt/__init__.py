# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""JSON Web Tokens: the one token library of the collection, for the izuma_jwt plugins and the API client.

``algorithms`` (what a token may be; imports nothing, for modules' argument specs) and ``options`` (the izuma_jwt
module's options); ``key_source`` (where the signing key lives: a PEM file, PEM content or a PKCS#11 key, parsed or
found once per process); ``key_facts`` (what is known about a key object, worked out once); ``signing`` (check the
options, build claims and headers, sign) with ``jws`` (the compact serialization, and PyJWT where it is needed);
``status`` (decode a deployed token and decide whether to renew it). docs/jwt.md lists the caches of the signing path.
"""

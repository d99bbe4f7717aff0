# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Planning by certificate provider: which certificates the module issued (and may replace), and for
``certificate_provider=external`` the certificate signing requests and the certificates the user's CA sends back.

The providers themselves (and the CA of ``ownca``) are in ``_verification_key_provider``; these functions work on a
``Planning`` (in ``_verification_key_planning``), from what ``observe`` read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from ansible_collections.izuma.device_management.plugins.module_utils._x509 import certificates as certs
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import issuing as x509_issuing
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.changes import WriteCsr
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.state import LocalKey

if TYPE_CHECKING:  # pragma: no cover - for annotations only (the planning module imports this one)
    from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.planning import Planning


def external_certificate(planning: "Planning", local: LocalKey) -> Optional[str]:
    """The certificate at certificate_path if it belongs to ``local`` (a CA's answer to the request), else None."""
    if planning.obs.certificate_pem is None or planning.given_content():
        return None
    cert = certs.load_certificate(planning.obs.certificate_pem, source=planning.obs.certificate_source)
    if not certs.certificate_matches_key(cert, local.key):
        return None
    return certs.dump_certificate(cert)


def issued_here(planning: "Planning", pem: str) -> bool:
    """Whether the module issued the certificate, so that it may replace it: self-signed by the key, or issued by
    the CA of certificate_provider=ownca. With certificate_provider=external the module issues nothing."""
    if planning.want.certificate_provider == "external":
        return False
    if planning.info(pem)["self_signed"]:
        return True
    return planning.obs.authority is not None and planning.obs.authority.issued(certs.load_certificate(pem))


def reissue_reason(planning: "Planning", pem: str) -> Optional[str]:
    """certificate_provider=ownca: a self-signed certificate (the module's own, from before) is replaced by the CA's."""
    authority = planning.obs.authority
    if authority is not None and planning.info(pem)["self_signed"]:
        return "certificate_provider=ownca: the certificate is self-signed, not issued by %s" % authority.name
    return None


def provider_mismatch(planning: "Planning", pem: str, source: str) -> None:
    """certificate_provider=ownca, but another CA issued the certificate: it is kept (not the module's), and said so."""
    authority = planning.obs.authority
    if authority is None or issued_here(planning, pem):
        return
    planning.warn("certificate_provider=ownca, but %s of '%s' was issued by %s, not by the CA %s (%s); the module does not "
                  "replace a certificate it did not issue: rotate=true replaces the key pair with one whose certificate this "
                  "CA issues." % (source, planning.want.name, planning.info(pem)["issuer"], authority.source, authority.name))


def request_certificate(planning: "Planning", local: LocalKey, why: str) -> None:
    """certificate_provider=external: write a certificate signing request for ``local`` to csr_path (0644), unless
    the file already asks for that key with that subject."""
    want, path = planning.want, str(planning.obs.files.csr)
    planning.facts["certificate_requested"] = True
    common_name = want.common_name or want.name
    if x509_issuing.csr_matches(planning.obs.csr_data, local.key, common_name, want.subject):
        return
    pem = x509_issuing.create_csr(local.key, common_name, want.subject)
    before = x509_issuing.csr_info(planning.obs.csr_data) if planning.obs.csr_data is not None else None
    planning.plan.add(WriteCsr(path, pem.encode("ascii"), 0o644, why=why, before=before, after=x509_issuing.csr_info(pem)))


def next_step(planning: "Planning", what: str) -> str:
    """What the user does with the request (certificate_provider=external), for the warning and the result."""
    return ("a certificate signing request for %s is at %s: have your CA issue a certificate from it (PEM, at most 2,000 "
            "characters) and put it at certificate_path (%s); the next run "
            "uploads it" % (what, planning.obs.files.csr, planning.want.certificate_path))


def external_due(planning: "Planning", local: LocalKey, pem: str, reason: str, source: str) -> bool:
    """certificate_provider=external and the certificate is due (within renew_before, or expired): request a new one.

    A warning while the current certificate still works; once it has expired the run fails after writing the request
    (the key cannot verify JWTs until the new certificate is there). Returns True when the run is blocked.
    """
    info = planning.info(pem)
    if not planning.facts.get("certificate_requested"):
        request_certificate(planning, local, why="certificate_provider=external: %s" % reason)
        sentence = next_step(planning, "the same key")
    else:
        sentence = "the certificate signing request at %s asks for a new key's certificate" % planning.obs.files.csr
    message = ("%s of '%s' (issued by %s) %s, and certificate_provider=external: %s." % (
        source, planning.want.name, info["issuer"], reason.replace("the certificate ", ""), sentence))
    planning.facts.setdefault("certificate_request", message)
    if info["expired"]:
        planning.block(message + " Until then the key cannot verify JWTs.")
        return True
    planning.warn(message)
    return False

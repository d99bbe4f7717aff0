# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""The one Izuma Device Management API client of the collection.

Everything that talks to the API goes through ``IzumaClient``: host, TLS,
timeouts, authentication (administrator access key or self-signed JWT),
retries with capped exponential backoff and full jitter, ``Retry-After``,
pagination and the mapping of every failure to ``IzumaApiError``. Its parts
live beside it: the options in ``_api_config``, authentication in ``_auth``,
the retry rules in ``_retry`` and the exception in ``_errors``.

Two rules shape the retry logic:

* a request the server may have carried out (a POST whose connection broke
  after it was sent, or that got a gateway error) is never sent again blindly:
  the caller gives a read-back function and the client looks for the object
  before trying again;
* no secret (access key, token, private key, passphrase) ever reaches an
  exception message: messages are built from the method, path, status and
  the server's error envelope only.
"""

from __future__ import annotations

import random
import time
import traceback
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional
from urllib.parse import urlsplit

from ansible_collections.izuma.device_management.plugins.module_utils._api_config import ClientConfig
from ansible_collections.izuma.device_management.plugins.module_utils._auth import authentication
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaApiError, IzumaConfigError
from ansible_collections.izuma.device_management.plugins.module_utils._retry import (
    AMBIGUOUS_STATUSES,
    DEFAULT_BACKOFF_BASE,
    DEFAULT_BACKOFF_CAP,
    RETRY_STATUSES,
    never_connected,
    parse_retry_after,
    retry_delay,
)

try:
    import requests
    from requests.adapters import HTTPAdapter
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR: Optional[str] = traceback.format_exc()
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None

COLLECTION_VERSION = "1.0.0"
# The API's largest page; fewer pages mean fewer requests on every converged run.
MAX_PAGE_SIZE = 1000


class IzumaClient:
    """A connection to the Izuma API: one ``requests`` session, reused for every call of a run."""

    def __init__(
        self,
        config: ClientConfig,
        session: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        backoff_base: float = DEFAULT_BACKOFF_BASE,
        backoff_cap: float = DEFAULT_BACKOFF_CAP,
    ) -> None:
        if not HAS_REQUESTS and session is None:
            raise IzumaConfigError("The Python library requests is required to talk to the Izuma API.")
        self.config = config
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self.base_url = config.api_host.rstrip("/")
        self.auth = authentication(config, clock=clock)
        self.session = session if session is not None else self._new_session()
        # Counted for tests, benchmarks and the collection's "requests made" reports.
        self.request_count = 0

    def _new_session(self) -> Any:
        session = requests.Session()
        # Retries are ours (they must know about POST read-back), so urllib3 makes none.
        adapter = HTTPAdapter(max_retries=0, pool_maxsize=4)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers["User-Agent"] = "izuma.device_management/%s" % COLLECTION_VERSION
        session.headers["Accept"] = "application/json"
        return session

    # -- the one request loop -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        params: Optional[Mapping[str, Any]] = None,
        body: Optional[Mapping[str, Any]] = None,
        headers: Optional[Mapping[str, str]] = None,
        read_back: Optional[Callable[[], Optional[Dict[str, Any]]]] = None,
    ) -> Optional[Dict[str, Any]]:
        """Send one API request and return its decoded JSON body (None for 204).

        Retries on 429, 502, 503, 504 and connection errors. A POST is retried
        only when the server certainly did not act on it (a 429 or 503, or a
        connection that was never made); after an ambiguous failure it calls
        ``read_back`` and returns what that finds, and without ``read_back`` it
        gives up rather than risk creating the object twice.
        """
        method = method.upper()
        url = self.base_url + path
        attempt = 0
        while True:
            retry_after: Optional[float] = None
            try:
                response = self._send(method, url, params, body, headers)
            except IzumaApiError as exc:
                # A connection-level failure; exc.type tells whether the request may have been delivered.
                ambiguous = exc.type != "connect_error"
                if exc.type == "tls_error" or attempt >= self.config.retries:
                    raise
                failure: IzumaApiError = exc
            else:
                if response.status_code < 400:
                    return self._decode(response, method, path)
                failure = self._error_from_response(response, method, path)
                if response.status_code not in RETRY_STATUSES or attempt >= self.config.retries:
                    raise failure
                ambiguous = response.status_code in AMBIGUOUS_STATUSES
                retry_after = parse_retry_after(response.headers.get("Retry-After"), now=self._clock())
            if method == "POST" and ambiguous:
                if read_back is None:
                    raise IzumaApiError(
                        "the request may have been carried out before it failed (%s), and it is not sent again blindly; "
                        "read the current state and run again." % failure.message,
                        status=failure.status, error_type=failure.type, request_id=failure.request_id, method=method, path=path)
                found = read_back()
                if found is not None:
                    return found
            self._sleep(self._delay(attempt, retry_after))
            attempt += 1

    def _delay(self, attempt: int, retry_after: Optional[float]) -> float:
        return retry_delay(attempt, retry_after, self.config.retry_after_cap, self._rng, self._backoff_base, self._backoff_cap)

    def _send(self, method: str, url: str, params: Optional[Mapping[str, Any]], body: Optional[Mapping[str, Any]],
              headers: Optional[Mapping[str, str]]) -> Any:
        all_headers = dict(self.auth.headers())
        if headers:
            all_headers.update(headers)
        self.request_count += 1
        try:
            return self.session.request(
                method, url, params=params, json=body, headers=all_headers,
                timeout=self.config.timeout, verify=self.config.verify)
        except requests.exceptions.SSLError as exc:
            raise IzumaApiError(
                "TLS verification of %s failed (%s). Set ca_path (IZUMA_CA_BUNDLE) to the CA bundle that signed the "
                "server's certificate; validate_certs=false turns verification off and is for tests only."
                % (self.base_url, type(exc).__name__), error_type="tls_error", method=method, path=_path_of(url))
        except requests.exceptions.ConnectTimeout:
            raise IzumaApiError("could not connect to %s within %s seconds" % (self.base_url, self.config.timeout),
                                error_type="connect_error", method=method, path=_path_of(url))
        except requests.exceptions.Timeout:
            raise IzumaApiError("no answer from %s within %s seconds" % (self.base_url, self.config.timeout),
                                error_type="timeout", method=method, path=_path_of(url))
        except requests.exceptions.ConnectionError as exc:
            kind = "connect_error" if never_connected(exc) else "connection_error"
            raise IzumaApiError("connection to %s failed (%s)" % (self.base_url, _reason(exc)),
                                error_type=kind, method=method, path=_path_of(url))

    @staticmethod
    def _decode(response: Any, method: str, path: str) -> Optional[Dict[str, Any]]:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise IzumaApiError("the server answered %s with a body that is not JSON" % response.status_code,
                                status=response.status_code, error_type="invalid_response", method=method, path=path)

    @staticmethod
    def _error_from_response(response: Any, method: str, path: str) -> IzumaApiError:
        try:
            envelope = response.json()
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict):
            return IzumaApiError("HTTP %s (%s)" % (response.status_code, response.reason or "no reason given"),
                                 status=response.status_code, method=method, path=path)
        fields = envelope.get("fields") if isinstance(envelope.get("fields"), list) else None
        return IzumaApiError(
            str(envelope.get("message") or response.reason or "no message"),
            status=response.status_code, error_type=envelope.get("type"), fields=fields,
            request_id=envelope.get("request_id"), method=method, path=path)

    # -- conveniences over request() --------------------------------------------------------------------

    def get(self, path: str, params: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """GET one object."""
        return self.request("GET", path, params=params) or {}

    def get_or_none(self, path: str) -> Optional[Dict[str, Any]]:
        """GET one object, or None when the API answers 404."""
        try:
            return self.get(path)
        except IzumaApiError as exc:
            if exc.status == 404:
                return None
            raise

    def iterate(self, path: str, params: Optional[Mapping[str, Any]] = None, page_size: int = MAX_PAGE_SIZE) -> Iterator[Dict[str, Any]]:
        """Yield every object of a list endpoint, following ``has_more``/``after`` to the end."""
        query: Dict[str, Any] = dict(params or {})
        query.setdefault("limit", page_size)
        query.setdefault("order", "ASC")
        while True:
            page = self.get(path, params=query)
            data = page.get("data") or []
            yield from data
            if not page.get("has_more") or not data:
                return
            query["after"] = data[-1]["id"]

    def list(self, path: str, params: Optional[Mapping[str, Any]] = None, page_size: int = MAX_PAGE_SIZE) -> List[Dict[str, Any]]:
        """Every object of a list endpoint, all pages."""
        return list(self.iterate(path, params=params, page_size=page_size))

    def create(self, path: str, body: Mapping[str, Any], read_back: Optional[Callable[[], Optional[Dict[str, Any]]]] = None) -> Dict[str, Any]:
        """POST a new object; ``read_back`` finds it if an ambiguous failure hides whether it was created."""
        return self.request("POST", path, body=body, read_back=read_back) or {}

    def update(self, path: str, body: Mapping[str, Any], etag: Optional[str] = None) -> Dict[str, Any]:
        """PUT changes to an object, guarded by its etag when one is given."""
        headers = {"If-Match": etag} if etag else None
        return self.request("PUT", path, body=body, headers=headers) or {}

    def delete(self, path: str, etag: Optional[str] = None) -> bool:
        """DELETE an object; False when it was already gone (so a retried delete converges)."""
        headers = {"If-Match": etag} if etag else None
        try:
            self.request("DELETE", path, headers=headers)
        except IzumaApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True


def _path_of(url: str) -> str:
    return urlsplit(url).path or "/"


def _reason(exc: BaseException) -> str:
    """A short, secret-free reason for a connection failure (the innermost exception's class)."""
    inner: BaseException = exc
    while True:
        nxt = getattr(inner, "reason", None) or inner.__cause__ or inner.__context__
        if not isinstance(nxt, BaseException) or nxt is inner:
            break
        inner = nxt
    return type(inner).__name__

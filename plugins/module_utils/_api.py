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

* a write the server may have carried out (a POST, PUT or DELETE whose
  connection broke after it was sent, that timed out waiting for the answer,
  or that got a gateway error) is never sent again blindly: the client reads
  the object back and continues from what the server holds (a POST's caller
  says how to find the object; a PUT or DELETE reads its own path, and is sent
  again, if at all, with the etag the server has now);
* no secret (access key, token, private key, passphrase) ever reaches an
  exception message: messages are built from the method, path, status and
  the server's error envelope only.
"""

from __future__ import annotations

import functools
import random
import socket
import time
import traceback
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Union
from urllib.parse import urlsplit

from ansible_collections.izuma.device_management.plugins.module_utils._api_config import ClientConfig
from ansible_collections.izuma.device_management.plugins.module_utils._auth import authentication
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaApiError, IzumaConfigError
from ansible_collections.izuma.device_management.plugins.module_utils._retry import (
    AMBIGUOUS_STATUSES,
    DEFAULT_BACKOFF_BASE,
    DEFAULT_BACKOFF_CAP,
    RETRY_STATUSES,
    Resend,
    holds,
    if_match,
    parse_retry_after,
    retry_delay,
)

try:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.exceptions import NewConnectionError
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR: Optional[str] = traceback.format_exc()
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None

# The API's largest page; fewer pages mean fewer requests on every converged run.
MAX_PAGE_SIZE = 1000

# What a read-back after an ambiguous failure answers: the object (done), or Resend (not carried out), or None
# (a POST's read-back that found nothing: send it again as it was).
ReadBack = Callable[[], Union[None, Dict[str, Any], Resend]]


class IzumaClient:
    """A connection to the Izuma API: one ``requests`` session, reused for every call of a run.

    ``warnings`` lists what the caller should show the user about this connection (TLS verification turned off):
    modules pass them to ``module.warn``, controller-side plugins to their display.
    """

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
            raise IzumaConfigError("the Python library 'requests' is required on the host that runs this task (install it with: pip install 'requests>=2.25')")
        self.config = config
        self.warnings: List[str] = config.warnings()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self.base_url = config.api_host.rstrip("/")
        self.auth = authentication(config, clock=clock)
        self.session = session if session is not None else _new_session()
        # Counted for tests, benchmarks and the collection's "requests made" reports.
        self.request_count = 0

    # -- the one request loop -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        params: Optional[Mapping[str, Any]] = None,
        body: Optional[Mapping[str, Any]] = None,
        headers: Optional[Mapping[str, str]] = None,
        read_back: Optional[ReadBack] = None,
    ) -> Optional[Dict[str, Any]]:
        """Send one API request and return its decoded JSON body (None for 204).

        Retries on 429, 502, 503, 504 and connection errors. A write (POST,
        PUT, DELETE) is sent again as it was only when the server certainly did
        not act on it (a 429 or 503, or a connection that was never made).
        After an ambiguous failure it calls ``read_back``: an object means the
        work is done and is returned, ``Resend`` sends the request again with
        its headers, None sends it again as it was. Without ``read_back`` it
        gives up rather than risk doing the work twice.
        """
        method = method.upper()
        url = self.base_url + path
        attempt = 0
        started = time.monotonic()
        while True:
            retry_after: Optional[float] = None
            try:
                response = self._send(method, url, params, body, headers)
            except IzumaApiError as exc:
                # A connection-level failure; exc.type tells whether the request may have been delivered.
                ambiguous = exc.type != "connect_error"
                if exc.type == "tls_error":
                    raise
                if attempt >= self.config.retries:
                    raise _gave_up(exc, attempt + 1, time.monotonic() - started, self.config.retries) from None
                failure: IzumaApiError = exc
            else:
                if response.status_code < 400:
                    return _decode(response, method, path)
                failure = _error_from_response(response, method, path)
                if response.status_code not in RETRY_STATUSES:
                    raise failure
                if attempt >= self.config.retries:
                    raise _gave_up(failure, attempt + 1, time.monotonic() - started, self.config.retries)
                ambiguous = response.status_code in AMBIGUOUS_STATUSES
                retry_after = parse_retry_after(response.headers.get("Retry-After"), now=self._clock())
            if ambiguous and method != "GET":
                if read_back is None:
                    raise _not_sent_again(failure, method, path)
                found = read_back()
                if isinstance(found, Resend):
                    headers = found.headers
                elif found is not None:
                    return found
            self._sleep(retry_delay(attempt, retry_after, self.config.retry_after_cap, self._rng, self._backoff_base, self._backoff_cap))
            attempt += 1

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
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise _connection_failure(exc, self.base_url, self.config.timeout, method, _path_of(url))

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
        return _paginate(self.get, path, dict(params or {}), page_size)

    def list(self, path: str, params: Optional[Mapping[str, Any]] = None, page_size: int = MAX_PAGE_SIZE) -> List[Dict[str, Any]]:
        """Every object of a list endpoint, all pages."""
        return list(self.iterate(path, params=params, page_size=page_size))

    def create(self, path: str, body: Mapping[str, Any], read_back: Optional[Callable[[], Optional[Dict[str, Any]]]] = None) -> Dict[str, Any]:
        """POST a new object; ``read_back`` finds it if an ambiguous failure hides whether it was created."""
        return self.request("POST", path, body=body, read_back=read_back) or {}

    def update(self, path: str, body: Mapping[str, Any], etag: Optional[str] = None) -> Dict[str, Any]:
        """PUT changes to an object, guarded by its etag when one is given.

        After an ambiguous failure the object is read back: when it already holds ``body`` the PUT is done and the
        object is returned; otherwise the PUT is sent again with the etag the server has now.
        """
        read_back = functools.partial(_read_back_update, self, path, body, etag)
        return self.request("PUT", path, body=body, headers=if_match(etag), read_back=read_back) or {}

    def delete(self, path: str, etag: Optional[str] = None) -> bool:
        """DELETE an object, guarded by its etag when one is given; False when the server says it is gone already.

        After an ambiguous failure the object is read back: when it is gone the DELETE is done (False: whether this
        request or another removed it cannot be told); otherwise it is sent again with the etag the server has now.
        """
        gone: List[bool] = []
        read_back = functools.partial(_read_back_delete, self, path, etag, gone)
        try:
            self.request("DELETE", path, headers=if_match(etag), read_back=read_back)
        except IzumaApiError as exc:
            if exc.status == 404:
                return False
            raise
        return not gone


def _paginate(get: Callable[..., Dict[str, Any]], path: str, query: Dict[str, Any], page_size: int) -> Iterator[Dict[str, Any]]:
    query.setdefault("limit", page_size)
    query.setdefault("order", "ASC")
    while True:
        page = get(path, params=query)
        data = page.get("data") or []
        yield from data
        if not page.get("has_more") or not data:
            return
        query["after"] = data[-1]["id"]


def _not_sent_again(failure: IzumaApiError, method: str, path: str) -> IzumaApiError:
    """The error for an ambiguous write that has no read-back: it may have been carried out, so it is not resent."""
    return IzumaApiError(
        "the request may have been carried out before it failed (%s), and it is not sent again blindly; "
        "read the current state and run again." % failure.message,
        status=failure.status, error_type=failure.type, request_id=failure.request_id, method=method, path=path)


def _read_back_update(client: IzumaClient, path: str, body: Mapping[str, Any], etag: Optional[str]) -> Union[Dict[str, Any], Resend]:
    """After an ambiguous PUT: the object when it already holds ``body``, else Resend with the etag it has now."""
    current = client.get_or_none(path)
    if current is None:
        raise IzumaApiError("the object was deleted while it was being updated; run again to see what is left.",
                            status=404, error_type="not_found", method="PUT", path=path)
    if holds(current, body):
        return current
    return Resend(if_match(current.get("etag") if etag else None))


def _read_back_delete(client: IzumaClient, path: str, etag: Optional[str], gone: List[bool]) -> Union[Dict[str, Any], Resend]:
    """After an ambiguous DELETE: done (and ``gone`` noted) when the object is gone, else Resend with its etag now."""
    current = client.get_or_none(path)
    if current is None:
        gone.append(True)
        return {}
    return Resend(if_match(current.get("etag") if etag else None))


def _connection_failure(exc: Exception, base_url: str, timeout: float, method: str, path: str) -> IzumaApiError:
    """The IzumaApiError for a request that got no HTTP answer, in plain words that name the option to check.

    Its type says whether the request may have arrived: ``connect_error`` (never connected), ``connection_error``
    (lost after it was sent), ``timeout``, ``tls_error``.
    """
    def failure(message: str, kind: str) -> IzumaApiError:
        return IzumaApiError(message, error_type=kind, method=method, path=path)

    if isinstance(exc, requests.exceptions.SSLError):
        return failure("TLS verification of %s failed (%s). Set ca_path (IZUMA_CA_BUNDLE) to the CA bundle that signed the "
                       "server's certificate; validate_certs=false turns verification off and is for tests only."
                       % (base_url, _reason(exc)), "tls_error")
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return failure("could not connect to %s within %s seconds: check api_host (IZUMA_API_HOST) and that this machine's "
                       "network reaches it; timeout (IZUMA_TIMEOUT) sets the wait" % (base_url, timeout), "connect_error")
    if isinstance(exc, requests.exceptions.Timeout):
        return failure("%s took the request but gave no answer within %s seconds: if the server is only slow, raise "
                       "timeout (IZUMA_TIMEOUT)" % (base_url, timeout), "timeout")
    causes = list(_causes(exc))
    if any(isinstance(cause, socket.gaierror) for cause in causes) or "NameResolution" in _reason(exc):
        return failure("the host name of %s could not be resolved: check api_host (IZUMA_API_HOST) for a typo, and this "
                       "machine's DNS" % base_url, "connect_error")
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return failure("%s refused the connection (nothing listens on that port): check api_host (IZUMA_API_HOST) and that "
                       "the server is running" % base_url, "connect_error")
    if _never_connected(exc):
        return failure("could not connect to %s (%s): check api_host (IZUMA_API_HOST)" % (base_url, _reason(exc)), "connect_error")
    return failure("the connection to %s was lost before an answer came (%s)" % (base_url, _reason(exc)), "connection_error")


def _gave_up(exc: IzumaApiError, tries: int, elapsed: float, retries: int) -> IzumaApiError:
    """``exc`` with how many tries were made and how long they took, once the last retry failed as well."""
    exc.message = "%s (%d %s over %.1f seconds; retries (IZUMA_RETRIES) is %d)" % (
        exc.message, tries, "try" if tries == 1 else "tries", elapsed, retries)
    exc.args = (exc.message,)
    return exc


def _new_session() -> Any:
    session = requests.Session()
    # Retries are ours (they must know about read-backs), so urllib3 makes none.
    adapter = HTTPAdapter(max_retries=0, pool_maxsize=4)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    # No collection version here: module_utils run without galaxy.yml, and a copy of its version would drift.
    session.headers["User-Agent"] = "izuma.device_management " + requests.utils.default_user_agent()
    session.headers["Accept"] = "application/json"
    return session


def _decode(response: Any, method: str, path: str) -> Optional[Dict[str, Any]]:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise IzumaApiError("the server answered %s with a body that is not JSON" % response.status_code,
                            status=response.status_code, error_type="invalid_response", method=method, path=path)


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


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and every exception behind it: requests wraps urllib3's, which wraps the socket's."""
    seen: List[int] = []
    pending = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.append(id(current))
        yield current
        linked = [getattr(current, "reason", None), current.__cause__, current.__context__] + list(current.args)
        pending.extend(item for item in linked if isinstance(item, BaseException))


def _never_connected(exc: BaseException) -> bool:
    """True when no connection was made (refused, or the name did not resolve), so nothing can have been sent.

    urllib3 raises NewConnectionError (NameResolutionError is one) only while connecting; the operating system's
    ECONNREFUSED and a failed name lookup happen only before a connection exists. A connection that was reset or
    closed after it was made is none of these: the request may have reached the server.
    """
    return any(isinstance(cause, (NewConnectionError, ConnectionRefusedError, socket.gaierror)) for cause in _causes(exc))

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
pagination and the mapping of every failure to ``IzumaApiError``.

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

import email.utils
import random
import re
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional
from urllib.parse import urlsplit

from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaConfigError, IzumaError

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
DEFAULT_HOST = "https://api.us-east-1.mbedcloud.com"
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 5
# Backoff: attempt n sleeps a random time in [0, min(cap, base * 2**n)] ("full jitter").
DEFAULT_BACKOFF_BASE = 0.5
DEFAULT_BACKOFF_CAP = 20.0
# A Retry-After above this many seconds is cut down to it, so that a run never stalls for long.
DEFAULT_RETRY_AFTER_CAP = 60.0
RETRY_STATUSES = frozenset((429, 502, 503, 504))
# After one of these the server may have done the work: a POST is read back before it is retried.
AMBIGUOUS_STATUSES = frozenset((502, 504))
# The API's largest page; fewer pages mean fewer requests on every converged run.
MAX_PAGE_SIZE = 1000
# A JWT minted for the client's own calls lives this long, and is replaced this long before it expires.
AUTH_TOKEN_LIFETIME = 300
AUTH_TOKEN_REFRESH_MARGIN = 60
ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")


class IzumaApiError(IzumaError):
    """An API call failed: the HTTP status and the server's error envelope, never a secret."""

    def __init__(
        self,
        message: str,
        status: Optional[int] = None,
        error_type: Optional[str] = None,
        fields: Optional[List[Dict[str, str]]] = None,
        request_id: Optional[str] = None,
        method: Optional[str] = None,
        path: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = error_type
        self.fields = fields or []
        self.request_id = request_id
        self.method = method
        self.path = path

    def __str__(self) -> str:
        where = "%s %s" % (self.method, self.path) if self.method else "Izuma API request"
        status = " %s" % self.status if self.status else ""
        kind = " %s" % self.type if self.type else ""
        text = "%s failed:%s%s: %s" % (where, status, kind, self.message)
        if self.fields:
            text += " (" + "; ".join("%s: %s" % (f.get("name"), f.get("message")) for f in self.fields) + ")"
        if self.request_id:
            text += " [request_id %s]" % self.request_id
        return text

    def to_dict(self) -> Dict[str, Any]:
        """The error's details for a module result (safe: nothing here is secret)."""
        return {
            "status": self.status,
            "type": self.type,
            "message": self.message,
            "fields": self.fields,
            "request_id": self.request_id,
        }


@dataclass
class ClientConfig:
    """Connection options, the same for modules and controller-side plugins."""

    api_host: str = DEFAULT_HOST
    api_key: Optional[str] = field(default=None, repr=False)
    auth_application_id: Optional[str] = None
    auth_private_key_path: Optional[str] = None
    auth_private_key_content: Optional[str] = field(default=None, repr=False)
    auth_private_key_passphrase: Optional[str] = field(default=None, repr=False)
    auth_jwt_algorithm: Optional[str] = None
    validate_certs: bool = True
    ca_path: Optional[str] = None
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    retry_after_cap: float = DEFAULT_RETRY_AFTER_CAP

    OPTION_NAMES = (
        "api_host", "api_key", "auth_application_id", "auth_private_key_path", "auth_private_key_content",
        "auth_private_key_passphrase", "auth_jwt_algorithm", "validate_certs", "ca_path", "timeout", "retries",
    )

    @classmethod
    def from_options(cls, get: Callable[[str], Any]) -> "ClientConfig":
        """Build a configuration from an option getter (``module.params.get`` or a plugin's ``get_option``).

        An empty string counts as not set: AWX injects every environment variable of a credential type, with ``''``
        for the inputs a credential leaves empty (an access-key credential has no application id, and so on).
        """
        values = {name: get(name) for name in cls.OPTION_NAMES}
        config = cls(**{name: value for name, value in values.items() if value is not None and value != ""})
        config.validate()
        return config

    @property
    def auth_method(self) -> str:
        """``access_key`` or ``jwt``, chosen from the options given (an access key wins)."""
        if self.api_key:
            return "access_key"
        if self.auth_application_id and (self.auth_private_key_path or self.auth_private_key_content):
            return "jwt"
        return "none"

    def validate(self) -> None:
        """Refuse a configuration that cannot work, naming the option to fix."""
        if not re.match(r"^https?://[^/\s]+", self.api_host or ""):
            raise IzumaConfigError(
                "api_host must be an http(s) URL such as %s (got %r); set api_host or IZUMA_API_HOST." % (DEFAULT_HOST, self.api_host))
        if self.api_key is not None and not self.api_key.startswith("ak_"):
            raise IzumaConfigError("api_key must be an Izuma access key starting with 'ak_'; check api_key or IZUMA_API_KEY.")
        if self.auth_method == "none":
            raise IzumaConfigError(
                "No credentials for the Izuma API: set api_key (IZUMA_API_KEY) to an administrator access key, "
                "or auth_application_id (IZUMA_APPLICATION_ID) with auth_private_key_path (IZUMA_PRIVATE_KEY_PATH) "
                "or auth_private_key_content (IZUMA_PRIVATE_KEY) to authenticate with a JWT.")
        if self.auth_private_key_path and self.auth_private_key_content:
            raise IzumaConfigError("Give auth_private_key_path or auth_private_key_content, not both.")
        if self.auth_application_id and not ID_PATTERN.match(self.auth_application_id):
            raise IzumaConfigError("auth_application_id must be an application id of 32 lowercase hex characters.")
        if self.timeout <= 0:
            raise IzumaConfigError("timeout must be a positive number of seconds.")
        if self.retries < 0:
            raise IzumaConfigError("retries must be zero or a positive number.")

    @property
    def verify(self) -> Any:
        """What requests takes as ``verify``: a CA bundle path, or a bool."""
        if not self.validate_certs:
            return False
        return self.ca_path or True


class AccessKeyAuth:
    """Administrator (or application) access key: ``Authorization: Bearer ak_...``."""

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key

    def headers(self) -> Dict[str, str]:
        """Headers for one request."""
        return {"Authorization": "Bearer " + self._api_key}


class JwtAuth:
    """JWT authentication: a short-lived token signed with the application's private key.

    The key is read and parsed once; a token is reused until it comes within
    ``refresh_margin`` seconds of its expiry, then a new one is signed.
    """

    def __init__(self, config: ClientConfig, clock: Callable[[], float] = time.time,
                 lifetime: int = AUTH_TOKEN_LIFETIME, refresh_margin: int = AUTH_TOKEN_REFRESH_MARGIN) -> None:
        self._config = config
        self._clock = clock
        self._lifetime = lifetime
        self._refresh_margin = refresh_margin
        self._key: Any = None
        self._algorithm: Optional[str] = None
        self._token: Optional[str] = None
        self._expires = 0.0

    def _load_key(self) -> None:
        # Imported here so that access-key users need neither cryptography nor PyJWT.
        from ansible_collections.izuma.device_management.plugins.module_utils import _files as files, _keys as keys, _tokens as tokens

        config = self._config
        if config.auth_private_key_path:
            data = files.read_file(config.auth_private_key_path, what="auth_private_key_path")
            source = config.auth_private_key_path
        else:
            data = (config.auth_private_key_content or "").encode("utf-8")
            source = "auth_private_key_content"
        self._key = keys.load_private_key(data, config.auth_private_key_passphrase, source=source)
        self._algorithm = config.auth_jwt_algorithm or tokens.default_algorithm(self._key)
        tokens.check_algorithm(self._algorithm, self._key)

    def headers(self) -> Dict[str, str]:
        """Headers for one request, signing a fresh token when the cached one is about to expire."""
        from ansible_collections.izuma.device_management.plugins.module_utils import _tokens as tokens

        if self._key is None:
            self._load_key()
        now = self._clock()
        if self._token is None or self._expires - now < self._refresh_margin:
            self._token = tokens.sign_token(self._key, self._algorithm, lifetime=self._lifetime, now=now)
            self._expires = now + self._lifetime
        return {"Authorization": "Bearer " + self._token, "X-Application-ID": str(self._config.auth_application_id)}


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


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
        self.auth = AccessKeyAuth(config.api_key) if config.auth_method == "access_key" else JwtAuth(config, clock=clock)
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
        """Seconds to wait before the next attempt: the server's Retry-After (capped), else full-jitter backoff."""
        if retry_after is not None:
            return min(retry_after, self.config.retry_after_cap)
        return self._rng() * min(self._backoff_cap, self._backoff_base * (2 ** attempt))

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
            kind = "connect_error" if _never_connected(exc) else "connection_error"
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


def _never_connected(exc: BaseException) -> bool:
    """True when the connection was refused or the name did not resolve, so nothing can have been sent."""
    text = repr(exc)
    return any(marker in text for marker in ("ConnectionRefusedError", "NewConnectionError", "NameResolutionError", "Errno 111"))

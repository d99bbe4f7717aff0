# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Injected failures and rate limiting, so tests can see how a client copes.

A fault rule matches requests by method and path (``re.search``) and does one thing:

* ``sequence``: consecutive matching requests get the listed answers (an error status,
  optionally with ``Retry-After``, or ``{"pass": true}``); after the list, requests pass;
* ``delay``: sleep that many seconds before handling each matching request;
* ``drop``: on the nth matching request close the connection without answering, either
  ``before`` handling it or ``after`` the change was committed;
* ``hang``: on the nth matching request block, ``before`` or ``after`` committing, until
  released through the control interface or ``max_seconds`` pass.

The rate limiter answers 429 beyond N requests in a sliding window of S seconds. It
uses real (monotonic) time: shifting the emulator clock must not refill or drain it.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from izuma_emulator.messages import default_error_type

KINDS = ("sequence", "delay", "drop", "hang")
WHEN = ("before", "after")


@dataclass
class FaultRule:
    """One validated rule and how many requests it has matched so far."""

    method: str | None
    path: str
    kind: str
    sequence: list[dict[str, object]] = field(default_factory=list)
    delay: float = 0.0
    when: str = "before"
    nth: int = 1
    max_seconds: float = 60.0
    matched: int = 0

    def matches(self, method: str, path: str) -> bool:
        """True when the request's method and path fit this rule."""
        return (self.method is None or self.method == method) and re.search(self.path, path) is not None

    def describe(self) -> dict[str, object]:
        """The rule as the control interface shows it."""
        shown: dict[str, object] = {"method": self.method, "path": self.path, "kind": self.kind, "matched": self.matched}
        if self.kind == "sequence":
            shown["sequence"] = self.sequence
        elif self.kind == "delay":
            shown["delay"] = self.delay
        else:
            shown.update({self.kind: self.when, "nth": self.nth})
            if self.kind == "hang":
                shown["max_seconds"] = self.max_seconds
        return shown


@dataclass
class FaultPlan:
    """What the matching rules do to one request."""

    delay: float = 0.0
    answer: dict[str, object] | None = None
    drop: str | None = None
    hang: str | None = None
    hang_seconds: float = 0.0

    @property
    def is_noop(self) -> bool:
        """True when no rule affects the request."""
        return not (self.delay or self.answer or self.drop or self.hang)


def _number(value: object, name: str, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise ValueError(f"{name} must be a number >= {minimum}")
    return float(value)


def _sequence_answer(item: object, index: int) -> dict[str, object]:
    """Validate one sequence entry: {"pass": true} or {"status": 4xx/5xx, "retry_after"?, "type"?, "message"?}."""
    if not isinstance(item, dict):
        raise ValueError(f"sequence[{index}] must be an object")
    if item.get("pass") is True:
        return {"pass": True}
    unknown = set(item) - {"status", "retry_after", "type", "message"}
    if unknown:
        raise ValueError(f"sequence[{index}] has unknown keys: {', '.join(sorted(unknown))}")
    status = item.get("status")
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        raise ValueError(f"sequence[{index}] needs {{\"pass\": true}} or a status from 400 to 599")
    answer: dict[str, object] = {"status": status, "type": str(item.get("type") or default_error_type(status))}
    answer["message"] = str(item.get("message") or f"Injected fault: HTTP {status}.")
    if item.get("retry_after") is not None:
        answer["retry_after"] = str(item["retry_after"])
    return answer


def parse_rule(raw: object) -> FaultRule:
    """Validate one rule from the control interface; raise ValueError with a readable reason."""
    if not isinstance(raw, dict):
        raise ValueError("each fault rule must be a JSON object")
    method = raw.get("method")
    if method is not None and not isinstance(method, str):
        raise ValueError("method must be a string or null")
    path = raw.get("path", "")
    if not isinstance(path, str):
        raise ValueError("path must be a regular expression string")
    try:
        re.compile(path)
    except re.error as error:
        raise ValueError(f"path is not a valid regular expression: {error}") from None
    kinds = [kind for kind in KINDS if kind in raw]
    if len(kinds) != 1:
        raise ValueError(f"a rule needs exactly one of {', '.join(KINDS)}")
    unknown = set(raw) - {"method", "path", "nth", "max_seconds", *KINDS}
    if unknown:
        raise ValueError(f"unknown keys in rule: {', '.join(sorted(unknown))}")
    rule = FaultRule(method=method.upper() if method else None, path=path, kind=kinds[0])
    if rule.kind == "sequence":
        if not isinstance(raw["sequence"], list) or not raw["sequence"]:
            raise ValueError("sequence must be a non-empty list")
        rule.sequence = [_sequence_answer(item, index) for index, item in enumerate(raw["sequence"])]
    elif rule.kind == "delay":
        rule.delay = _number(raw["delay"], "delay", 0)
    else:
        if raw[rule.kind] not in WHEN:
            raise ValueError(f"{rule.kind} must be 'before' or 'after'")
        rule.when = raw[rule.kind]
        rule.nth = int(_number(raw.get("nth", 1), "nth", 1))
        rule.max_seconds = _number(raw.get("max_seconds", 60), "max_seconds", 0)
    return rule


@dataclass
class _Hang:
    """A request currently blocked by a hang rule."""

    method: str
    path: str
    released: threading.Event = field(default_factory=threading.Event)


class FaultBook:
    """The active fault rules and the requests they are holding."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._hangs: list[_Hang] = []

    def add(self, raw: object) -> list[dict[str, object]]:
        """Add one rule (an object) or several (a list); all are validated before any is added."""
        rules = [parse_rule(item) for item in (raw if isinstance(raw, list) else [raw])]
        with self._lock:
            self._rules.extend(rules)
        return self.describe()

    def clear(self) -> None:
        """Remove every rule and let any hung request go."""
        with self._lock:
            self._rules.clear()
        self.release()

    def describe(self) -> list[dict[str, object]]:
        """The rules with their match counters."""
        with self._lock:
            return [rule.describe() for rule in self._rules]

    def plan(self, method: str, path: str) -> FaultPlan:
        """Count this request against every matching rule and say what they do to it."""
        plan = FaultPlan()
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path):
                    continue
                rule.matched += 1
                if rule.kind == "delay":
                    plan.delay += rule.delay
                elif rule.kind == "sequence":
                    if plan.answer is None and rule.matched <= len(rule.sequence):
                        answer = rule.sequence[rule.matched - 1]
                        plan.answer = None if answer.get("pass") else answer
                elif rule.matched == rule.nth:
                    if rule.kind == "drop":
                        plan.drop = plan.drop or rule.when
                    elif plan.hang is None:
                        plan.hang, plan.hang_seconds = rule.when, rule.max_seconds
        return plan

    def hang(self, method: str, path: str, max_seconds: float) -> None:
        """Block the calling request until released or ``max_seconds`` pass."""
        hang = _Hang(method, path)
        with self._lock:
            self._hangs.append(hang)
        try:
            hang.released.wait(max_seconds)
        finally:
            with self._lock:
                self._hangs.remove(hang)

    def release(self) -> int:
        """Let every hung request continue; return how many there were."""
        with self._lock:
            hangs = list(self._hangs)
        for hang in hangs:
            hang.released.set()
        return len(hangs)

    def status(self) -> dict[str, object]:
        """Whether a request is hanging now, and which."""
        with self._lock:
            hung = [{"method": hang.method, "path": hang.path} for hang in self._hangs if not hang.released.is_set()]
        return {"hanging": bool(hung), "hung_request": hung[0] if hung else None, "hung_requests": hung}


class RateLimiter:
    """At most ``requests`` API requests in any ``per_seconds`` window; disabled by default."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: int | None = None
        self._per_seconds = 0.0
        self._accepted: deque[float] = deque()

    def configure(self, requests: int | None, per_seconds: float | None) -> None:
        """Set the limit, or disable it with None."""
        with self._lock:
            self._requests = requests
            self._per_seconds = per_seconds or 0.0
            self._accepted.clear()

    def describe(self) -> dict[str, object] | None:
        """The current limit, or None when disabled."""
        with self._lock:
            if self._requests is None:
                return None
            return {"requests": self._requests, "per_seconds": self._per_seconds}

    def admit(self) -> int | None:
        """Count a request; return None to let it through, or the seconds to put in Retry-After."""
        with self._lock:
            if self._requests is None:
                return None
            now = time.monotonic()
            while self._accepted and self._accepted[0] <= now - self._per_seconds:
                self._accepted.popleft()
            if len(self._accepted) < self._requests:
                self._accepted.append(now)
                return None
            # Refused requests are not counted: waiting Retry-After seconds is then enough.
            return max(1, math.ceil(self._accepted[0] + self._per_seconds - now))

"""``Authenticator``: token to principal, cached briefly, with failures rate-limited.

A verified token is remembered for ``cache_seconds`` (its expiry is still checked on
every use), so the common request costs no query. Any identity change made through
this process clears the cache at once; other replicas see it within ``cache_seconds``.
Failed attempts are counted per client address and per token id (per user name for
passwords); past the limit the caller is refused before any lookup until its window
passes.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from modeldepot.db.types import utcnow
from modeldepot.errors import AuthRateLimited, TokenExpired, Unauthenticated
from modeldepot.security import tokens as token_format
from modeldepot.security.context import Context
from modeldepot.security.identity import Authenticated, IdentityService

if TYPE_CHECKING:
    from modeldepot.schemas.identity import TokenCreated

# A token's last use is written at most this often: it is a write on a read path.
LAST_USED_EVERY_SECONDS = 60.0


@dataclass(slots=True)
class _Cached:
    auth: Authenticated
    until: float


class FailureLimiter:
    """At most ``limit`` failures per key in any ``window`` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again (0: now)."""
        with self._lock:
            times = self._recent(key, time.monotonic())
            if times is None or len(times) < self.limit:
                return 0.0
            return max(0.0, times[0] + self.window - time.monotonic())

    def fail(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            times = self._recent(key, now)
            if times is None:
                if len(self._failures) > 100_000:  # bounded: forget the oldest keys
                    for old in list(self._failures)[:10_000]:
                        del self._failures[old]
                times = self._failures[key] = deque()
            times.append(now)
            while len(times) > self.limit:
                times.popleft()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] + self.window <= now:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times


class Authenticator:
    def __init__(
        self,
        identity: IdentityService,
        *,
        cache_seconds: float = 5.0,
        max_failures: int = 10,
        failure_window: float = 60.0,
    ) -> None:
        self.identity = identity
        self.cache_seconds = cache_seconds
        self.limiter = FailureLimiter(max_failures, failure_window)
        self._cache: dict[str, _Cached] = {}
        self._last_touch: dict[str, float] = {}
        self._lock = threading.Lock()
        identity.on_change.append(self.forget_all)

    def cached(self, text: str) -> Authenticated | None:
        """The cached answer for ``text``, without touching the database (None: ask
        ``authenticate``)."""
        entry = self._cache.get(_key(text))
        if entry is None or entry.until < time.monotonic():
            return None
        expires = entry.auth.expires_at
        if expires is not None and expires <= utcnow():
            return None
        return entry.auth

    def check_address(self, client: str | None) -> None:
        """AuthRateLimited if ``client`` failed too often lately."""
        self._refuse_if_limited(f"address:{client or 'unknown'}")

    def authenticate(self, text: str, client: str | None) -> Authenticated:
        """Verify ``text`` (a token); raise Unauthenticated (or a subclass) or
        AuthRateLimited. Records failures; never logs or echoes the credential."""
        address = f"address:{client or 'unknown'}"
        self._refuse_if_limited(address)
        parsed = token_format.parse(text)
        account = f"token:{parsed[0]}" if parsed else None
        if account is not None:
            self._refuse_if_limited(account)
        try:
            auth = self.identity.authenticate(text)
        except Unauthenticated as exc:
            if not isinstance(exc, TokenExpired):
                self.limiter.fail(address)
                if account is not None:
                    self.limiter.fail(account)
            raise
        if self.cache_seconds > 0:
            with self._lock:
                if len(self._cache) > 50_000:
                    self._cache.clear()
                self._cache[_key(text)] = _Cached(auth, time.monotonic() + self.cache_seconds)
        self._maybe_touch(auth, client)
        return auth

    def login(
        self,
        ctx: Context,
        username: str,
        password: str,
        *,
        token_name: str = "login",
        expires_at: datetime | None = None,
    ) -> TokenCreated:
        """A new token for ``username``'s password (``IdentityService.login``), with
        failures counted per address and per user name like bad tokens."""
        address = f"address:{ctx.client or 'unknown'}"
        account = f"login:{username}"
        self._refuse_if_limited(address)
        self._refuse_if_limited(account)
        try:
            return self.identity.login(
                ctx, username, password, token_name=token_name, expires_at=expires_at
            )
        except Unauthenticated:
            self.limiter.fail(address)
            self.limiter.fail(account)
            raise

    def forget_all(self) -> None:
        """Drop every cached answer: called after any change to principals, groups,
        grants or tokens made through this process."""
        with self._lock:
            self._cache.clear()

    def _maybe_touch(self, auth: Authenticated, client: str | None) -> None:
        now = time.monotonic()
        last = self._last_touch.get(auth.token_id)
        if last is not None and now - last < LAST_USED_EVERY_SECONDS:
            return
        stamp = utcnow()
        if (
            last is None
            and auth.last_used_at is not None
            and (stamp - auth.last_used_at).total_seconds() < LAST_USED_EVERY_SECONDS
        ):
            self._last_touch[auth.token_id] = now
            return
        self._last_touch[auth.token_id] = now
        self.identity.touch_token(auth.token_id, stamp, client)

    def _refuse_if_limited(self, key: str) -> None:
        wait = self.limiter.retry_after(key)
        if wait > 0:
            seconds = max(1, int(wait + 0.999))
            raise AuthRateLimited(
                f"too many failed authentications; try again in {seconds} s",
                retry_after=seconds,
            )


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()

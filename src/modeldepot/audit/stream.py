"""EventService: the audit log read as an event stream, after a cursor.

A record's ``seq`` is its place in commit order on every replica (the chain's head row
is locked until commit), so records with seq up to the head are all committed and
"everything after ``after``" never skips one that commits later. A page answers
``next_after``: the last seq it returned, or, when the caller could see nothing more,
the end of the log it looked up to, so invisible records are not scanned again (and
``after`` past the end answers the end: the cursor of "now").

Waiting (long polls and server-sent events) wakes at once on commits of this process
(``Units.appended``) and polls the database every ``POLL_SECONDS`` for other
replicas'. One thread per registry turns the condition into asyncio wake-ups, and
runs only while someone waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from modeldepot.audit.query import AuditFilter, record_read, visible
from modeldepot.db.tables import audit_head, audit_log
from modeldepot.errors import InvalidInput
from modeldepot.registry.unit import Units
from modeldepot.schemas.audit import EventPage
from modeldepot.security.context import Context
from modeldepot.security.roles import NEEDS, Permission

POLL_SECONDS = 0.5
MAX_WAIT_SECONDS = 60.0
DEFAULT_EVENTS = 100
MAX_EVENTS = 1000
# A stream that had nothing to say for this long sends a comment, so proxies keep it.
KEEPALIVE_SECONDS = 15.0


class EventService:
    def __init__(self, units: Units) -> None:
        self.units = units
        self._wakeup = _Wakeup(units)

    def events(
        self, ctx: Context, filters: AuditFilter, *, after: int = 0, limit: int | None = None
    ) -> EventPage:
        """Records after ``after`` that ``ctx`` may read and ``filters`` match, oldest
        first (reader on the model; records about no model for registry admins)."""
        limit = _check(after, limit)
        with self.units.read(ctx) as reading:
            end = reading.conn.execute(select(audit_head.c.seq)).scalar_one()
            rows = reading.conn.execute(
                select(audit_log.c.seq, audit_log.c.record, audit_log.c.hash)
                .where(visible(reading.access, NEEDS[Permission.MODEL_READ]))
                .where(*filters.conditions())
                .where(audit_log.c.seq > after, audit_log.c.seq <= end)
                .order_by(audit_log.c.seq)
                .limit(limit)
            ).all()
        items = [record_read(r.record, r.hash) for r in rows]
        # A full page may stop short of the end; a short one has seen up to it. A cursor
        # past the end (a client's "now", or a log restored from an older backup)
        # answers the end, so new records are not skipped.
        next_after = rows[-1].seq if len(rows) == limit else end
        return EventPage(items=items, next_after=next_after)

    async def wait_for_events(
        self,
        ctx: Context,
        filters: AuditFilter,
        *,
        after: int = 0,
        limit: int | None = None,
        wait: float = 0.0,
    ) -> EventPage:
        """``events``, waiting up to ``wait`` seconds for at least one (a long poll)."""
        if not 0 <= wait <= MAX_WAIT_SECONDS:
            raise InvalidInput(f"wait must be between 0 and {MAX_WAIT_SECONDS:.0f} seconds")
        deadline = time.monotonic() + wait
        with self._wakeup.waiter() as woken:
            while True:
                page = await run_in_threadpool(self.events, ctx, filters, after=after, limit=limit)
                remaining = deadline - time.monotonic()
                if page.items or remaining <= 0:
                    return page
                after = page.next_after
                await _sleep_until(woken, min(remaining, POLL_SECONDS))

    async def follow(
        self, ctx: Context, filters: AuditFilter, *, after: int = 0, duration: float | None = None
    ) -> AsyncIterator[EventPage]:
        """Pages of events as they commit, for ``duration`` seconds (None: until the
        caller stops iterating); an empty page now and then lets the caller say it is
        alive."""
        _check(after, None)
        deadline = None if duration is None else time.monotonic() + duration
        idle = 0.0
        with self._wakeup.waiter() as woken:
            while deadline is None or time.monotonic() < deadline:
                page = await run_in_threadpool(self.events, ctx, filters, after=after)
                after = page.next_after
                if page.items or idle >= KEEPALIVE_SECONDS:
                    idle = 0.0
                    yield page
                    if page.items:
                        continue
                pause = POLL_SECONDS
                if deadline is not None:
                    pause = min(pause, max(0.0, deadline - time.monotonic()))
                started = time.monotonic()
                await _sleep_until(woken, pause)
                idle += time.monotonic() - started


def _check(after: int, limit: int | None) -> int:
    if after < 0:
        raise InvalidInput("after must be a sequence number, 0 or more")
    if limit is None:
        return DEFAULT_EVENTS
    if not 1 <= limit <= MAX_EVENTS:
        raise InvalidInput(f"limit must be between 1 and {MAX_EVENTS}")
    return limit


async def _sleep_until(woken: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(woken.wait(), timeout=seconds)
    woken.clear()


class _Wakeup:
    """Sets the asyncio events of every waiter when this process appends to the log."""

    def __init__(self, units: Units) -> None:
        self.units = units
        self._guard = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._thread: threading.Thread | None = None

    def waiter(self) -> _Registration:
        return _Registration(self)

    def add(self, entry: tuple[asyncio.AbstractEventLoop, asyncio.Event]) -> None:
        with self._guard:
            self._waiters.add(entry)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="modeldepot-event-wakeup", daemon=True
                )
                self._thread.start()

    def remove(self, entry: tuple[asyncio.AbstractEventLoop, asyncio.Event]) -> None:
        with self._guard:
            self._waiters.discard(entry)

    def _run(self) -> None:
        appended = self.units.appended
        seen = self.units.last_seq
        while True:
            with appended:
                if self.units.last_seq == seen:
                    appended.wait(timeout=1.0)
                changed = self.units.last_seq != seen
                seen = self.units.last_seq
            with self._guard:
                if not self._waiters:
                    self._thread = None
                    return
                waiters = list(self._waiters) if changed else []
            for loop, event in waiters:
                # A loop may close between the copy and here (its server stopping).
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(event.set)


class _Registration:
    def __init__(self, wakeup: _Wakeup) -> None:
        self.wakeup = wakeup

    def __enter__(self) -> asyncio.Event:
        event = asyncio.Event()
        self.entry = (asyncio.get_running_loop(), event)
        self.wakeup.add(self.entry)
        return event

    def __exit__(self, *exc: object) -> None:
        self.wakeup.remove(self.entry)

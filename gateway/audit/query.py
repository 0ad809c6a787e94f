"""Reading the decision log: always page by page, never the whole stream at once.

A log grows without bound, so no read here holds more than one page
(``PAGE_SIZE`` records) from Redis at a time: ``XRANGE``/``XREVRANGE`` with
``COUNT`` in a loop, resuming after the last stream id seen.

Records are read as their stored JSON (``raw_pages``) and built into models
only where a caller needs them: the verifier hashes the JSON itself, and a
filtered listing (``newest``) first drops, by a plain substring test, the
records that cannot match, so that a page over a long log costs the reading,
not the validation, of the records it passes over.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

from gateway.audit.record import AuditRecord
from gateway.errors import InvalidRequest
from gateway.storage.redis import RedisStore, redis_errors

__all__ = ["PAGE_SIZE", "LogReader", "matches", "parse_cursor"]

#: Records per XRANGE.
PAGE_SIZE = 1000

#: Records one ``newest`` call reads at most: a filtered page over a long log
#: answers in bounded time (tens of milliseconds) and hands back a cursor.
SCAN_LIMIT = 1000

#: Filter values whose JSON text is themselves between quotes, whoever writes it.
_PLAIN = re.compile(r"[A-Za-z0-9_.:@/+-]*")
#: Filters on a top-level string field: field name -> the stored field it tests.
_TOP_LEVEL = {"tenant": "tenant", "creator": "principal", "decision_id": "decision_id"}

_U64 = 2**64 - 1
_LAST_ID = f"{_U64}-{_U64}"


def parse_cursor(raw: str) -> str:
    """A caller's cursor as a Redis stream id, or ``InvalidRequest`` naming it.

    Checked here rather than left to Redis: an id Redis refuses (parts beyond 64
    bits) would otherwise surface as a dependency error, a 5xx for a caller's typo.
    """
    ms, dash, seq = raw.partition("-")
    if dash and ms.isdigit() and seq.isdigit() and int(ms) <= _U64 and int(seq) <= _U64:
        return f"{int(ms)}-{int(seq)}"
    raise InvalidRequest(
        f"cursor {raw[:40]!r} is not a cursor this API gave out "
        "(pass the X-Next-Cursor header of the previous page)",
        code="invalid_cursor",
    )


def matches(
    r: AuditRecord,
    *,
    tenant: str | None = None,
    creator: str | None = None,
    verdict: str | None = None,
    template: str | None = None,
    since: str | None = None,
    until: str | None = None,
    decision_id: str | None = None,
) -> bool:
    stamp = r.timestamp.isoformat()
    return not (
        (tenant and r.tenant != tenant)
        or (creator and r.principal != creator)
        or (verdict and r.result.get("verdict") != verdict)
        or (template and r.input.get("template", "default") != template)
        or (since and stamp < since)
        or (until and stamp > until)
        or (decision_id and r.decision_id != decision_id)
    )


def _needles(filters: dict[str, str | None]) -> list[str]:
    """Text every stored record that matches ``filters`` contains (the JSON of
    ``"field":"value"``), for the filters whose value is plain enough to tell."""
    out = [
        f'"{field}":"{value}"'
        for name, field in _TOP_LEVEL.items()
        if (value := filters.get(name)) and _PLAIN.fullmatch(value)
    ]
    verdict = filters.get("verdict")
    if verdict and _PLAIN.fullmatch(verdict):
        out.append(f'"verdict":"{verdict}"')
    return out


class LogReader:
    """Read access to one decision log (a Redis stream and its checkpoint list)."""

    def __init__(self, store: RedisStore) -> None:
        self._store = store
        self._stream = store.keys.decisions()
        self._checkpoints_key = store.keys.checkpoints()

    @property
    def stream(self) -> str:
        return self._stream

    async def checkpoints(self) -> list[dict[str, Any]]:
        """The checkpoints kept in Redis (the local file is the one to trust)."""
        found: list[dict[str, Any]] = []
        start = 0
        while True:
            async with redis_errors():
                raw = await self._store.client.lrange(
                    self._checkpoints_key, start, start + PAGE_SIZE - 1
                )
            found.extend(json.loads(x) for x in raw)
            if len(raw) < PAGE_SIZE:
                return found
            start += PAGE_SIZE

    # -- reading (always paged) ------------------------------------------------

    async def raw_pages(
        self,
        *,
        reverse: bool = False,
        after: str | None = None,
        page: int = PAGE_SIZE,
        first: int | None = None,
    ) -> AsyncIterator[list[tuple[str, str]]]:
        """The log as (stream id, stored record JSON) pages, oldest first (newest with
        ``reverse``), starting just past stream id ``after``; the first page holds
        ``first`` records (default ``page``), then each is four times the last, up to ``page``."""
        if after is not None and after == ("0-0" if reverse else _LAST_ID):
            return  # nothing lies past the very first (or last) possible stream id
        bound = f"({after}" if after else None
        count = min(first or page, page)
        while True:
            async with redis_errors():
                if reverse:
                    entries = await self._store.client.xrevrange(
                        self._stream, max=bound or "+", min="-", count=count
                    )
                else:
                    entries = await self._store.client.xrange(
                        self._stream, min=bound or "-", max="+", count=count
                    )
            if not entries:
                return
            yield [(str(entry_id), str(fields["record"])) for entry_id, fields in entries if fields]
            if len(entries) < count:
                return
            bound = f"({entries[-1][0]!s}"
            count = min(count * 4, page)

    async def pages(
        self, *, reverse: bool = False, after: str | None = None, page: int = PAGE_SIZE
    ) -> AsyncIterator[list[tuple[str, AuditRecord]]]:
        """The log as (stream id, record) pages, oldest first (newest with ``reverse``),
        starting just past stream id ``after``."""
        async for chunk in self.raw_pages(reverse=reverse, after=after, page=page):
            yield [(entry_id, AuditRecord.model_validate_json(raw)) for entry_id, raw in chunk]

    async def newest(
        self, *, after: str | None, limit: int, scan: int = SCAN_LIMIT, **filters: str | None
    ) -> tuple[list[AuditRecord], str | None]:
        """Up to ``limit`` records matching ``filters`` (see ``matches``), newest first,
        from just before stream id ``after``; and the cursor to continue from, None at
        the start of the log. At most ``scan`` records are read per call, so one
        request costs a bounded time whatever the filters."""
        found: list[AuditRecord] = []
        scanned = 0
        needles = _needles(filters)
        # Read no more than a full answer needs if most records match; more when not.
        first = min(scan, max(2 * limit, 100))
        async for chunk in self.raw_pages(
            reverse=True, after=after, page=min(PAGE_SIZE, scan), first=first
        ):
            for entry_id, raw in chunk:
                scanned += 1
                # A record without the text of a filter cannot match it: skip its parsing.
                if all(n in raw for n in needles):
                    record = AuditRecord.model_validate_json(raw)
                    if matches(record, **filters):
                        found.append(record)
                if len(found) >= limit or scanned >= scan:
                    return found, entry_id
        return found, None

    async def records(self, *, page: int = PAGE_SIZE) -> AsyncIterator[AuditRecord]:
        async for chunk in self.pages(page=page):
            for _, record in chunk:
                yield record

    async def read(self, *, count: int | None = None) -> list[AuditRecord]:
        """The first ``count`` records (all by default), read page by page."""
        out: list[AuditRecord] = []
        async for record in self.records(page=min(count, PAGE_SIZE) if count else PAGE_SIZE):
            if count is not None and len(out) >= count:
                break
            out.append(record)
        return out

    async def length(self) -> int:
        async with redis_errors():
            return int(await self._store.client.xlen(self._stream))

"""Narrowing helpers: from the loose types tests read to the ones they assert on.

Decision-log records hold ``JsonValue`` (any JSON), Redis replies are ``bytes | str | None``
and aiohttp keeps the bound port on a private server. Each helper checks the shape it
expects (a test fails loudly on anything else) so the tests type-check without
``type: ignore`` or ``Any``.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

from aiohttp import web
from pydantic import JsonValue

T = TypeVar("T")
#: What redis-py says ``XRANGE``/``XREVRANGE`` return (ids and fields may be missing).
RawEntries = list[tuple[bytes | str | None, dict[bytes | str, bytes | str] | None]] | None


def some(value: T | None) -> T:
    """``value``, which the test expects to exist."""
    assert value is not None
    return value


def obj(value: object) -> dict[str, JsonValue]:
    """``value`` as a JSON object."""
    assert isinstance(value, dict), value
    return value


def arr(value: object) -> list[JsonValue]:
    """``value`` as a JSON array."""
    assert isinstance(value, list), value
    return value


def objs(value: object) -> list[dict[str, JsonValue]]:
    """``value`` as a JSON array of objects."""
    return [obj(item) for item in arr(value)]


def num(value: object) -> float:
    """``value`` as a JSON number (a bool is not one)."""
    assert isinstance(value, int | float) and not isinstance(value, bool), value
    return value


def redis_int(reply: bytes | str | None) -> int:
    """A Redis counter's reply as an int; a missing key fails the test."""
    assert reply is not None, "the counter does not exist"
    return int(reply)


def entries(raw: RawEntries) -> list[tuple[bytes | str, dict[bytes | str, bytes | str]]]:
    """A stream range reply as (id, fields) pairs, every one present."""
    assert raw is not None
    pairs = []
    for entry_id, fields in raw:
        assert entry_id is not None and fields is not None, (entry_id, fields)
        pairs.append((entry_id, fields))
    return pairs


def bound_port(site: web.TCPSite) -> int:
    """The port a started ``TCPSite`` bound to port 0 actually listens on."""
    server = site._server
    assert isinstance(server, asyncio.Server), server
    return int(server.sockets[0].getsockname()[1])

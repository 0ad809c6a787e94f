"""Reading a request body at the door: bounded in size, strict JSON, bounded in shape.

Everything a caller sends is refused here, before any stage runs, if it could
not be recorded and hashed safely later: bodies over the size limit (counted
while streaming, so a huge body is never read in full), anything that is not
strict JSON (``NaN``, ``Infinity``, numbers that overflow to infinity, lone
surrogate escapes, invalid UTF-8), and nesting deeper than ``MAX_DEPTH``.

orjson decides what is acceptable (it refuses all of the above by itself, up to
its own depth limit of 1024). When it refuses, the permissive standard parser
reads the body once more, with hooks that mark what orjson refused, only to
name the field (JSON path) in the answer.

A refused body is never stored as received: ``digest`` gives a bounded summary
(size, SHA-256, a short excerpt) that the decision log records instead.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import AsyncIterator
from typing import Any

import orjson
from pydantic import JsonValue

__all__ = [
    "EXCERPT_CHARS",
    "MAX_DEPTH",
    "MalformedBody",
    "decode_json",
    "digest",
    "first_problem",
    "read_limited",
]

#: Deepest nesting accepted; the request contract itself needs 3.
MAX_DEPTH = 64
#: Characters of a refused body kept in its record.
EXCERPT_CHARS = 256
#: Digits above which the standard parser's hook refuses an integer instead of
#: converting it (Python refuses beyond 4300 digits with a ValueError).
_MAX_INT_DIGITS = 20


class MalformedBody:
    """A body refused before validation (see ``gateway.contract.body``); validation reports it.

    It keeps the bytes that were read (at most the size limit) only so that the
    decision log can record a bounded digest of them, never the bytes themselves.
    """

    def __init__(
        self,
        problem: str,
        *,
        field: str = "body",
        raw: bytes = b"",
        complete: bool = True,
        declared: int | None = None,
        limit: int | None = None,
    ) -> None:
        self.problem = problem
        #: JSON path of the offending value, bounded: a field name can be long.
        self.field = field if len(field) <= 200 else field[:200] + "..."
        self.raw = raw
        #: False when only the first ``limit`` bytes were read.
        self.complete = complete
        #: The Content-Length the caller announced, if any.
        self.declared = declared
        #: Set when the body was refused for its size.
        self.limit = limit

    @classmethod
    def too_large(cls, limit: int, *, declared: int | None, prefix: bytes) -> MalformedBody:
        size = f"{declared} bytes" if declared is not None else f"more than {limit} bytes"
        return cls(
            f"the body is {size}; the limit is {limit} bytes",
            raw=prefix,
            complete=False,
            declared=declared,
            limit=limit,
        )

    def __repr__(self) -> str:
        return f"MalformedBody({self.field!r}, {self.problem!r})"


class _Refused:
    """A value orjson refused, as the standard parser's hooks mark it."""

    def __init__(self, problem: str) -> None:
        self.problem = problem


def _parse_int(text: str) -> int | _Refused:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        return _Refused(f"integer of {len(text.lstrip('-'))} digits is too large")
    return int(text)


def _parse_float(text: str) -> float | _Refused:
    value = float(text)
    if math.isinf(value):
        return _Refused(f"number {text[:40]} is out of range (it overflows to infinity)")
    return value


def _parse_constant(text: str) -> _Refused:
    return _Refused(f"{text} is not a number JSON allows; send a finite number")


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _path(parts: tuple[str | int, ...]) -> str:
    # The same dotted form as validation problems ("tools.0"), "body" for the root.
    return ".".join(str(p) for p in parts) or "body"


def first_problem(tree: Any) -> tuple[str, str] | None:
    """The JSON path and problem of the first refused value, surrogate or too deep level."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(tree, ())]
    while stack:
        value, where = stack.pop()
        if len(where) > MAX_DEPTH:
            return _path(where[:MAX_DEPTH]), f"nested deeper than {MAX_DEPTH} levels"
        if isinstance(value, _Refused):
            return _path(where), value.problem
        if isinstance(value, float) and not math.isfinite(value):
            return _path(where), "not a finite number"
        if isinstance(value, str) and _has_surrogate(value):
            return _path(where), "contains a lone surrogate escape (\\ud800-\\udfff)"
        if isinstance(value, dict):
            for key, item in reversed(value.items()):
                if isinstance(key, str) and _has_surrogate(key):
                    return _path((*where, key.encode("utf-8", "backslashreplace").decode())), (
                        "the field name contains a lone surrogate escape (\\ud800-\\udfff)"
                    )
                stack.append((item, (*where, key)))
        elif isinstance(value, list):
            stack.extend((item, (*where, i)) for i, item in reversed(list(enumerate(value))))
    return None


def _locate(raw: bytes) -> tuple[str, str] | None:
    """Read again permissively to name what orjson refused; None if that is not possible."""
    try:
        tree = json.loads(
            raw.decode("utf-8"),
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except (ValueError, RecursionError):
        # Not JSON for either parser, or nested beyond what it can walk: orjson's
        # own message (with its position) is the best description.
        return None
    return first_problem(tree)


def decode_json(raw: bytes) -> object:
    """The parsed body, or a ``MalformedBody`` naming the field and the problem."""
    if not raw.strip():
        return MalformedBody("the body is empty; send a JSON object", raw=raw)
    try:
        tree = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        located = _locate(raw)
        if located is not None:
            field, problem = located
            return MalformedBody(problem, field=field, raw=raw)
        message = str(exc)
        if message.startswith("depth limit exceeded"):
            message = f"nested deeper than {MAX_DEPTH} levels ({message})"
        return MalformedBody(message, raw=raw)
    found = first_problem(tree)
    if found is not None:
        field, problem = found
        return MalformedBody(problem, field=field, raw=raw)
    return tree


async def read_limited(
    chunks: AsyncIterator[bytes], *, declared: str | None, limit: int
) -> bytes | MalformedBody:
    """The whole body, or a too-large refusal as soon as it passes ``limit`` bytes.

    ``declared`` is the Content-Length header: a body announced as too large is
    refused without reading any of it.
    """
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        return MalformedBody.too_large(limit, declared=int(declared), prefix=b"")
    received = bytearray()
    async for chunk in chunks:
        received.extend(chunk)
        if len(received) > limit:
            return MalformedBody.too_large(limit, declared=None, prefix=bytes(received[:limit]))
    return bytes(received)


def digest(body: object) -> dict[str, JsonValue]:
    """A bounded summary of a body that was refused: what the decision log keeps of it."""
    complete = True
    if isinstance(body, MalformedBody):
        raw, complete = body.raw, body.complete
    elif isinstance(body, bytes):
        raw = body
    else:
        # Parsed JSON (from the API, the CLI or a stored request): its canonical
        # form. The default and the fallback keep this total for any object.
        try:
            raw = json.dumps(body, sort_keys=True, ensure_ascii=True, default=repr).encode()
        except (TypeError, ValueError, RecursionError):
            raw = repr(type(body)).encode()
    # Decoding with "replace" then re-escaping keeps the excerpt valid UTF-8
    # whatever arrived (invalid bytes, surrogate escapes stay as written).
    text = raw.decode("utf-8", "replace")
    summary: dict[str, JsonValue] = {
        "bytes": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "excerpt": text[:EXCERPT_CHARS].encode("utf-8", "backslashreplace").decode("utf-8"),
        "truncated": len(text) > EXCERPT_CHARS or not complete,
        "complete": complete,
    }
    if isinstance(body, MalformedBody) and body.declared is not None:
        summary["declared_bytes"] = body.declared
    return summary

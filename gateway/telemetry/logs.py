"""Structured logs: one JSON object per line in production, readable lines in development.

``configure_logging`` is called once by a front that owns the process
(``spawngate serve`` and each of its workers); it routes the standard library's
loggers (ours, uvicorn's) through structlog's formatter, so every line has the
same shape. Library code only ever logs through ``logging``: unconfigured (in
tests, or in a CLI command) nothing is printed to stdout.

Each answered creation request gets one ``decision`` line with its id, tenant,
principal, kind, outcome, verdict, status, duration and first reason code.
Request bodies, instructions, prompts and keys are never logged: the decision
log holds the full record, readable by those allowed to.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import structlog

from gateway.telemetry.facts import DecisionFacts

__all__ = ["LogFormat", "configure_logging", "log_decision"]

LogFormat = Literal["auto", "json", "console"]

_decisions = logging.getLogger("spawngate.decision")


def _drop_color_message(
    logger: object, method: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    # uvicorn passes a terminal-coloured copy of some messages as an extra.
    event.pop("color_message", None)
    return event


def configure_logging(
    fmt: LogFormat = "auto", level: int = logging.INFO, *, stream: TextIO | None = None
) -> None:
    """Route every standard-library logger through one structlog formatter (to stderr)."""
    out = stream if stream is not None else sys.stderr
    if fmt == "auto":
        fmt = "console" if out.isatty() else "json"
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
            _drop_color_message,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # Casbin logs every model line and request at INFO: too much for a gateway log.
    logging.getLogger("casbin").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn's own handlers would print a second, unstructured copy; a level
        # or a disabled flag left by an earlier uvicorn config would hide lines.
        own = logging.getLogger(name)
        own.handlers.clear()
        own.propagate = True
        own.setLevel(logging.NOTSET)
        own.disabled = False


def log_decision(facts: DecisionFacts) -> None:
    if not _decisions.isEnabledFor(logging.INFO):
        return
    _decisions.info(
        "decision",
        extra={
            "decision_id": facts.decision_id,
            "tenant": facts.tenant,
            "principal": facts.principal,
            "kind": facts.kind,
            "outcome": facts.outcome,
            "verdict": facts.verdict,
            "status": facts.status,
            "duration_ms": round(facts.seconds * 1000, 3),
            "reason": facts.reason,
        },
    )

"""Signed checkpoints of the decision log's chain head, kept outside Redis too.

A checkpoint says "record ``seq`` of this log has chain hash ``hash``", signed
with an HMAC-SHA256 key that never goes to Redis. Anyone who can write Redis
can rewrite and re-chain the stream and delete the checkpoint list beside it,
so every checkpoint is also appended (and fsynced) to a local file, and
shipped with the log when a sink is configured. Verifying the log against a
copy of that file (``spawngate audit verify --anchor FILE``) detects any
truncation, deletion, reordering or re-chaining of records up to the newest
checkpoint in the file.

The key is ``SPAWNGATE_AUDIT_CHECKPOINT_KEY`` when set; otherwise one is
generated once into ``<data_dir>/audit-checkpoint.key`` (mode 0600), which
suits a single host. Replicas on several hosts must share a configured key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.settings import Settings

__all__ = [
    "CheckpointFile",
    "checkpoint_file",
    "checkpoint_signature_ok",
    "is_checkpoint_line",
    "load_key",
    "resolve_key",
    "sign_checkpoint",
]

KEY_FILE_NAME = "audit-checkpoint.key"


def _mac(key: str, seq: int, digest: str) -> str:
    return hmac.new(key.encode(), f"{seq}:{digest}".encode(), hashlib.sha256).hexdigest()


def sign_checkpoint(head: Any, key: str) -> dict[str, Any]:
    """A checkpoint of ``head`` (anything with ``seq`` and ``hash``)."""
    seq, digest = int(head.seq), str(head.hash)
    return {
        "seq": seq,
        "hash": digest,
        "at": datetime.now(UTC).isoformat(),
        "hmac": _mac(key, seq, digest),
    }


def checkpoint_signature_ok(checkpoint: dict[str, Any], key: str) -> bool:
    try:
        expected = _mac(key, int(checkpoint["seq"]), str(checkpoint["hash"]))
    except (KeyError, TypeError, ValueError):
        return False
    return hmac.compare_digest(expected, str(checkpoint.get("hmac", "")))


def _key_file(settings: Settings) -> Path:
    return settings.data_dir / KEY_FILE_NAME


def resolve_key(settings: Settings) -> str:
    """The configured key, else the data dir's key file, created on first use (0600)."""
    if settings.audit_checkpoint_key is not None:
        return settings.audit_checkpoint_key.get_secret_value()
    path = _key_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secrets.token_hex(32))
        fh.flush()
        os.fsync(fh.fileno())
    return path.read_text(encoding="utf-8").strip()


def load_key(settings: Settings) -> str | None:
    """The key for verifying, never created: a verifier must not invent a key."""
    if settings.audit_checkpoint_key is not None:
        return settings.audit_checkpoint_key.get_secret_value()
    path = _key_file(settings)
    return path.read_text(encoding="utf-8").strip() if path.exists() else None


def checkpoint_file(settings: Settings) -> Path:
    """Where this host files its checkpoints (one file per log, i.e. per Redis prefix)."""
    if settings.audit_checkpoint_file is not None:
        return settings.audit_checkpoint_file
    return settings.data_dir / f"audit-checkpoints-{settings.redis_prefix}.jsonl"


def is_checkpoint_line(item: dict[str, Any]) -> bool:
    """Exports carry checkpoints as ``{"checkpoint": {...}}`` lines between records."""
    return set(item) == {"checkpoint"}


class CheckpointFile:
    """An append-only JSON-lines file of checkpoints, fsynced on every append."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, checkpoint: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(checkpoint, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return read_checkpoints(self.path.read_text(encoding="utf-8").splitlines())


def read_checkpoints(lines: Iterable[str]) -> list[dict[str, Any]]:
    """Checkpoints from an anchor file or an export (record lines are skipped)."""
    found = []
    for line in lines:
        if not line.strip():
            continue
        item = json.loads(line)
        if is_checkpoint_line(item):
            found.append(item["checkpoint"])
        elif "hmac" in item and "seq" in item and "type" not in item:
            found.append(item)
    return found

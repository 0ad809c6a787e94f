"""What every command group shares: settings from the environment, records to read."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from pydantic import ValidationError

from gateway.settings import Settings

if TYPE_CHECKING:
    from gateway.audit.log import AuditRecord

__all__ = ["load_records", "load_settings"]


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        typer.secho(f"invalid settings: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc


async def load_records(settings: Settings, records: Path | None) -> list[AuditRecord]:
    """Decision records from a JSON-lines file, or from the decision log in Redis."""
    from gateway.audit.log import AuditLog, AuditRecord
    from gateway.storage.redis import RedisStore

    if records is not None:
        text = await asyncio.to_thread(records.read_text, encoding="utf-8")
        # Exports carry signed checkpoints between the records: skip them here.
        return [
            AuditRecord.model_validate_json(line)
            for line in text.splitlines()
            if line.strip() and not line.startswith('{"checkpoint":')
        ]
    store = RedisStore.from_settings(settings)
    try:
        return await AuditLog(store, instance="cli", spool=settings.data_dir / "unused").read()
    finally:
        await store.aclose()
        store.shutdown_embedded()

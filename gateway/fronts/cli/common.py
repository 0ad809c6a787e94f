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
    from gateway.audit.export import export_records
    from gateway.audit.log import AuditLog
    from gateway.storage.redis import RedisStore

    if records is not None:
        # An export's checkpoint lines are skipped; plain record lines read the same way.
        return await asyncio.to_thread(lambda: list(export_records(records)))
    store = RedisStore.from_settings(settings)
    try:
        return await AuditLog(store, instance="cli", spool=settings.data_dir / "unused").read()
    finally:
        await store.aclose()
        store.shutdown_embedded()

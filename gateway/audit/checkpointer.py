"""When the writer signs and files a checkpoint of its chain head.

Every ``every`` records, and at most ``seconds`` after an append, so the tail
of the log is covered too (signing and filing: ``gateway.audit.checkpoints``).
A checkpoint never delays the callers whose records it covers: it is taken
after their batch is answered.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.audit.checkpoints import CheckpointFile, sign_checkpoint
from gateway.audit.record import ChainHead
from gateway.errors import DependencyError
from gateway.storage.redis import RedisStore, redis_errors

__all__ = ["Checkpointer"]

logger = logging.getLogger("spawngate.audit")


class Checkpointer:
    """Signs the writer's head (``head()``), files it locally and in Redis."""

    def __init__(
        self,
        store: RedisStore,
        *,
        head: Callable[[], ChainHead | None],
        write_lock: asyncio.Lock,
        key: str | None,
        every: int,
        seconds: float,
        file: Path | None,
    ) -> None:
        self._store = store
        self._head = head
        #: The writer's lock: a timed checkpoint waits for the batch in flight.
        self._write_lock = write_lock
        self._key = key
        self._every = every
        self._seconds = seconds
        self._file = CheckpointFile(file) if file else None
        self._checkpointed = 0
        self._timer: asyncio.Task[None] | None = None

    async def if_due(self) -> None:
        """Checkpoint now if ``every`` records passed, else make sure the timer runs."""
        head = self._head()
        if self._key is None or head is None or head.seq <= self._checkpointed:
            return
        if head.seq // self._every > self._checkpointed // self._every:
            await self.checkpoint()
        elif self._timer is None or self._timer.done():
            self._timer = asyncio.get_running_loop().create_task(self._later())

    async def _later(self) -> None:
        await asyncio.sleep(self._seconds)
        async with self._write_lock:
            await self.checkpoint()

    async def checkpoint(self) -> dict[str, Any] | None:
        """Sign the head, file it locally and in Redis; None if nothing new.

        A failure is logged and retried with the next one: the records it would
        cover are already durable, and their callers must get their answers.
        """
        head = self._head()
        if self._key is None or head is None or head.seq <= self._checkpointed:
            return None
        signed = sign_checkpoint(head, self._key)
        try:
            if self._file is not None:
                await asyncio.to_thread(self._file.append, signed)
            async with redis_errors(stage="audit"):
                await self._store.client.rpush(self._store.keys.checkpoints(), json.dumps(signed))
        except (OSError, DependencyError) as exc:
            logger.error(
                "decision log checkpoint at %d not written (next one retries): %s", head.seq, exc
            )
            return None
        self._checkpointed = head.seq
        return signed

    async def stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            # wait() never raises the timer's cancellation into this caller.
            await asyncio.wait([self._timer])

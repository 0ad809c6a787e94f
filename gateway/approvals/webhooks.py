"""Signed webhooks: the final outcome of a queued request, POSTed to its callback_url.

The body is JSON; ``X-Spawngate-Signature: sha256=<hex>`` is the HMAC-SHA256 of
the exact body bytes with the gateway's ``SPAWNGATE_WEBHOOK_SECRET``, so the
receiver can check that the gateway sent it. Delivery is retried with backoff
in the background; it never holds up the approver's answer. Without a secret
nothing is sent (an unsigned callback could be forged by anyone).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from gateway.notifications.signing import SIGNATURE_HEADER, signature

__all__ = ["SIGNATURE_HEADER", "Notifier", "signature"]

logger = logging.getLogger("spawngate.webhooks")


class _Refused(Exception):
    """The receiver answered, but not with a 2xx: the delivery is tried again."""

    def __init__(self, status_code: int) -> None:
        super().__init__(status_code)
        self.status_code = status_code


def _log_failure(url: str) -> Callable[[RetryCallState], None]:
    def log(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, _Refused):
            logger.warning("callback %s answered %s", url, exc.status_code)
        else:
            logger.warning("callback %s failed: %s", url, exc)

    return log


class Notifier:
    def __init__(self, secret: str | None, *, attempts: int = 4, timeout: float = 3.0) -> None:
        self._secret = secret
        self._attempts = attempts
        self._client = httpx.AsyncClient(timeout=timeout)
        self._tasks: set[asyncio.Task[bool]] = set()

    def notify(self, url: str | None, payload: dict[str, Any]) -> asyncio.Task[bool] | None:
        if url is None:
            return None
        if self._secret is None:
            logger.warning("callback to %s not sent: no SPAWNGATE_WEBHOOK_SECRET to sign it", url)
            return None
        task = asyncio.create_task(self._deliver(url, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _deliver(self, url: str, payload: dict[str, Any]) -> bool:
        assert self._secret is not None
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: signature(self._secret, body),
        }
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            # 0.2 s, 0.4 s, 0.8 s ... between attempts.
            wait=wait_exponential(multiplier=0.2),
            retry=retry_if_exception_type((httpx.HTTPError, _Refused)),
            after=_log_failure(url),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    response = await self._client.post(url, content=body, headers=headers)
                    if response.status_code >= 300:
                        raise _Refused(response.status_code)
        except RetryError:
            logger.error("callback %s given up after %d attempts", url, self._attempts)
            return False
        return True

    async def aclose(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        await self._client.aclose()

"""Issue 9, item 8 for the decision log: a record is in the log exactly once,
even when Redis applies an append the gateway gave up on.

Two ways an append becomes ambiguous, each made deterministic here with a
dedicated real redis-server (tests/support/redis_proc.py):

* Redis freezes (SIGSTOP) with the append in its socket buffer; the client
  times out, the gateway spools the record, and Redis runs the append when it
  wakes up. The append carries a deadline, so Redis refuses it instead.
* Redis applies the append (fsynced) but the reply never arrives (here a
  loopback proxy on a unix socket drops it; in the fault suite, SIGKILL), and
  Redis is then killed and restarted from its append-only file. The spool
  drain finds the record already in the stream and skips it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.audit.log import AuditRecord, RecordType, verify_chain
from gateway.errors import SpawngateError
from gateway.runtime import Gateway
from tests.conftest import MakeSettings
from tests.support.redis_proc import RedisProcess

#: Short, so a frozen Redis makes the client give up quickly.
TIMEOUT = 0.5


def record(n: int) -> AuditRecord:
    return AuditRecord(
        type=RecordType.DECISION,
        decision_id=f"dec_{n}",
        timestamp=datetime.now(UTC),
        path="spawngate/create_agent",
        tenant="acme",
        principal="acme-orchestrator",
        input={"name": f"n-{n}"},
        result={"verdict": "deny"},
        bundles={"spawngate": {"revision": "test"}},
    )


@pytest.fixture
def redis_proc(tmp_path: Path) -> Iterator[RedisProcess]:
    proc = RedisProcess(tmp_path / "redis")
    proc.start()
    yield proc
    proc.stop()


class ReplyDropper:
    """A unix-socket proxy in front of Redis that, once armed, forwards the next
    EVALSHA to Redis but drops Redis's reply and closes the client's connection:
    the append is applied, the gateway never learns it."""

    def __init__(self, listen: Path, upstream: Path) -> None:
        self.listen = listen
        self.upstream = upstream
        self.armed = False
        self.dropped = asyncio.Event()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.listen}"

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.listen))

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(str(self.upstream))
        except OSError:
            writer.close()
            return
        drop = asyncio.Event()

        async def to_redis() -> None:
            while data := await reader.read(65536):
                if self.armed and b"EVALSHA" in data.upper():
                    self.armed = False
                    drop.set()
                up_writer.write(data)
                await up_writer.drain()

        async def to_client() -> None:
            while data := await up_reader.read(65536):
                if drop.is_set():
                    self.dropped.set()
                    return  # the reply is lost: close the client's connection
                writer.write(data)
                await writer.drain()

        tasks = [asyncio.create_task(to_redis()), asyncio.create_task(to_client())]
        with contextlib.suppress(OSError, ConnectionError):
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for w in (writer, up_writer):
            w.close()


@contextlib.asynccontextmanager
async def gateway_on(make_settings: MakeSettings, url: str) -> AsyncIterator[Gateway]:
    gw = Gateway.build(make_settings(redis_url=url, redis_timeout_seconds=TIMEOUT))
    try:
        yield gw
    finally:
        await gw.stop()


async def logged_ids(gw: Gateway) -> list[str]:
    records = await gw.audit.read()
    count, problem = verify_chain(records)
    assert problem is None, problem
    assert count == len(records)
    return [r.decision_id for r in records]


async def test_trust_8_append_redis_ran_after_a_freeze_is_not_logged_twice(
    redis_proc: RedisProcess, make_settings: MakeSettings
) -> None:
    async with gateway_on(make_settings, redis_proc.url) as gw:
        await gw.audit.append(record(1))  # script loaded, head known
        redis_proc.freeze()
        try:
            with pytest.raises(SpawngateError) as caught:
                await gw.audit.append(record(2))  # times out: spooled, caller gets a 503
        finally:
            redis_proc.thaw()
        assert caught.value.status == 503
        # Redis now runs what it had received while frozen: the late append must refuse.
        await asyncio.sleep(0.3)
        assert await logged_ids(gw) == ["dec_1"]
        await gw.audit.append(record(3))  # drains the spool first
        assert await logged_ids(gw) == ["dec_1", "dec_2", "dec_3"]


async def test_trust_8_append_applied_with_its_reply_lost_is_not_logged_twice(
    redis_proc: RedisProcess, make_settings: MakeSettings, tmp_path: Path
) -> None:
    proxy = ReplyDropper(tmp_path / "proxy.sock", redis_proc.socket)
    await proxy.start()
    try:
        async with gateway_on(make_settings, proxy.url) as gw:
            await gw.audit.append(record(1))
            proxy.armed = True
            with pytest.raises(SpawngateError) as caught:
                await gw.audit.append(record(2))  # applied and fsynced; the reply is lost
            assert caught.value.status == 503
            assert proxy.dropped.is_set()
            # Redis dies and comes back from its append-only file, record 2 included.
            redis_proc.kill()
            await asyncio.to_thread(redis_proc.start)
            await gw.audit.append(record(3))  # drains the spool first
            assert await logged_ids(gw) == ["dec_1", "dec_2", "dec_3"]
            # Drained once: a later append brings nothing back.
            await gw.audit.append(record(4))
            assert await logged_ids(gw) == ["dec_1", "dec_2", "dec_3", "dec_4"]
    finally:
        await proxy.aclose()

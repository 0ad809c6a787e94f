"""Issue 9, item 8: Redis faults around a creation never create an agent behind the caller's back.

Each test runs its own real redis-server (tests/support/redis_proc.py) behind an
in-process gateway with a 1 s Redis timeout. The gateway reaches Redis through a
byte-for-byte unix-socket relay that freezes Redis (SIGSTOP) just before it
passes on the creation's command (the first one naming the agent's registry
key), so the command sits in a Redis that is not answering: the gateway's call
times out, and the frozen Redis still holds the creation, to apply it when it
wakes up (or to lose it, when it is killed instead).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.audit.log import RecordType
from gateway.registry.base import AgentRecord
from gateway.runtime import Gateway
from gateway.settings import Settings
from tests.conftest import ROOMY_CONFIG, MakeSettings, bearer, client_for, write_config
from tests.support.narrow import objs
from tests.support.records import outcome_record
from tests.support.redis_proc import RedisProcess

#: The gateway's Redis timeout; the freeze outlasts it.
TIMEOUT = 1.0
FREEZE = 3.0
#: Roomy quotas; an orchestrator that may spawn is allowed without review.
CONFIG = ROOMY_CONFIG.replace(
    "    enabled: true\n", "    enabled: true\n    danger_threshold: 0.5\n", 1
)


@dataclass
class FreezingRelay:
    """Passes bytes between the gateway and Redis; freezes Redis before the first command
    that carries every part of ``trigger`` reaches it (and thaws it ``thaw_after`` seconds
    later, if > 0)."""

    redis: RedisProcess
    path: Path
    trigger: tuple[bytes, ...] = ()
    thaw_after: float = 0.0
    fired: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> asyncio.Server:
        return await asyncio.start_unix_server(self._serve, path=str(self.path))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(str(self.redis.socket))
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            self._pipe(reader, up_writer, inspect=True), self._pipe(up_reader, writer)
        )

    async def _pipe(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, inspect: bool = False
    ) -> None:
        try:
            while data := await src.read(65536):
                if inspect and self._fires(data):
                    self.redis.freeze()
                    self.fired.set()
                    if self.thaw_after > 0:
                        asyncio.get_running_loop().call_later(self.thaw_after, self.redis.thaw)
                dst.write(data)
                await dst.drain()
        except OSError:
            pass  # one side went away: close the other, as a real connection would
        finally:
            dst.close()

    def _fires(self, data: bytes) -> bool:
        return (
            bool(self.trigger)
            and not self.fired.is_set()
            and all(part in data for part in self.trigger)
        )

    def arm(self, settings: Settings, name: str, *, thaw_after: float) -> None:
        """On the creation's command: the first one naming the agent's registry key."""
        self.trigger = (f"{settings.redis_prefix}:reg:acme:agent:{name}".encode(),)
        self.thaw_after = thaw_after


@dataclass
class World:
    redis: RedisProcess
    relay: FreezingRelay
    settings: Settings
    gw: Gateway

    def agents(self) -> dict[str, dict[str, Any]]:
        with self.redis.client() as client:
            found: dict[str, dict[str, Any]] = {}
            pattern = f"{self.settings.redis_prefix}:reg:acme:agent:*"
            for key in client.scan_iter(match=pattern):
                raw = client.get(key)
                if raw is not None:
                    agent = AgentRecord.model_validate_json(raw)
                    found[agent.name] = agent.model_dump(mode="json")
            return found

    def active_counter(self) -> int:
        with self.redis.client() as client:
            return int(client.get(f"{self.settings.redis_prefix}:q:tenant:acme:active") or 0)

    async def outcomes(self, decision_id: str) -> list[dict[str, Any]]:
        found = []
        async for record in self.gw.audit.records():
            if record.type is RecordType.OUTCOME and record.decision_id == decision_id:
                found.append(dict(record.result))
        return found


@pytest.fixture
def redis_proc(tmp_path: Path) -> Iterator[RedisProcess]:
    proc = RedisProcess(tmp_path / "redis")
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
async def world(
    redis_proc: RedisProcess, tmp_path: Path, make_settings: MakeSettings
) -> AsyncIterator[World]:
    relay = FreezingRelay(redis_proc, tmp_path / "relay.sock")
    server = await relay.start()
    settings = make_settings(
        redis_url=f"unix://{relay.path}",
        redis_timeout_seconds=TIMEOUT,
        config_file=write_config(tmp_path, CONFIG),
        reconcile_seconds=0,
        approval_sweep_seconds=0,
        policy_reload_seconds=0,
    )
    gw = Gateway.build(settings)
    try:
        yield World(redis_proc, relay, settings, gw)
    finally:
        with contextlib.suppress(ProcessLookupError, RuntimeError):
            redis_proc.thaw()
        await gw.stop()
        server.close()


async def _create(c: httpx.AsyncClient, name: str) -> httpx.Response:
    return await c.post(
        "/v1/create_agent",
        json={"name": name, "role": "summarises tickets"},
        headers=bearer("orchestrator"),
    )


async def _warm_up(c: httpx.AsyncClient) -> None:
    # Scripts loaded and connections open: the faulty request then goes straight to Redis.
    made = await _create(c, "warm")
    assert made.status_code == 201, made.text


async def _until_ready(w: World, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if w.redis.ping():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("redis did not come back")


def _refused_by_role(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 503, response.text
    body: dict[str, Any] = response.json()
    assert body["outcome"] == "failed"
    error = body["error"]
    assert error["dependency"] in ("redis", "registry") and error["stage"] == "create", error
    assert "/" not in error["reason"] and "sock" not in response.text, response.text
    return body


async def test_trust_8_redis_frozen_during_create_creates_nothing_behind_the_caller(
    world: World,
) -> None:
    """The creation a frozen Redis holds is not applied when Redis wakes up."""
    async with client_for(world.gw) as c:
        await _warm_up(c)
        world.relay.arm(world.settings, "frozen", thaw_after=FREEZE)
        began = time.monotonic()
        response = await _create(c, "frozen")
        elapsed = time.monotonic() - began
        assert world.relay.fired.is_set()
        body = _refused_by_role(response)
        # A few seconds at most: the compensating step is bounded.
        assert elapsed < 15, elapsed
        await _until_ready(world)
        await asyncio.sleep(0.5)  # whatever the thawed Redis had queued is applied by now
        assert "frozen" not in world.agents(), "created behind the caller's back"
        said = [o["outcome"] for o in await world.outcomes(body["decision_id"])]
        assert said == ["rolled_back"], said
        # Redis serves again, and the slot of the failed creation was given back.
        after = await _create(c, "after")
        assert after.status_code == 201, after.text
    assert world.active_counter() == len(world.agents()) == 2


async def test_trust_8_redis_killed_during_create_is_rolled_back_and_quota_given_back(
    world: World,
) -> None:
    """Killed while it held the creation, restarted from its AOF: the caller's 503 holds."""
    async with client_for(world.gw) as c:
        await _warm_up(c)
        world.relay.arm(world.settings, "killed", thaw_after=0)
        request = asyncio.ensure_future(_create(c, "killed"))
        await asyncio.wait_for(world.relay.fired.wait(), 20)
        await asyncio.sleep(TIMEOUT + 0.5)
        world.redis.kill()
        await asyncio.sleep(0.5)
        await asyncio.to_thread(world.redis.start)
        response = await asyncio.wait_for(request, 30)
        body = _refused_by_role(response)
        assert "killed" not in world.agents()
        after = await _create(c, "after")  # also drains records spooled while Redis was down
        assert after.status_code == 201, after.text
        said = [o["outcome"] for o in await world.outcomes(body["decision_id"])]
        assert said == ["rolled_back"], said
    assert world.active_counter() == len(world.agents()) == 2


async def test_trust_8_redis_frozen_after_create_before_key_issued_rolls_back(
    world: World,
) -> None:
    """The registry took the agent, then storing its API key timed out: the caller's 503
    holds, because the creation is taken back."""
    async with client_for(world.gw) as c:
        await _warm_up(c)
        # The command that stores the new agent's key (a plain SET of its principal).
        world.relay.trigger = (b"\r\nSET\r\n", b'"id":"acme/sub-orch"')
        world.relay.thaw_after = FREEZE
        response = await c.post(
            "/v1/create_agent",
            json={
                "name": "sub-orch",
                "template": "orchestrator",
                "tools": ["create_sme", "web_search"],
            },
            headers=bearer("orchestrator"),
        )
        assert world.relay.fired.is_set(), response.text
        body = _refused_by_role(response)
        assert "agent_api_key" not in body
        await _until_ready(world)
        await asyncio.sleep(0.5)
        assert "sub-orch" not in world.agents(), "created behind the caller's back"
        said = [o["outcome"] for o in await world.outcomes(body["decision_id"])]
        assert said == ["rolled_back"], said
    assert world.active_counter() == len(world.agents()) == 1


async def test_trust_8_reconciler_removes_agent_of_indeterminate_creation(
    world: World,
) -> None:
    """An agent whose creation the log calls indeterminate (or failed) is removed and recorded."""
    async with client_for(world.gw) as c:
        made = await _create(c, "base")
        assert made.status_code == 201, made.text
    agent = made.json()["agent"]
    planted = {}
    for name, outcome in (("limbo", "indeterminate"), ("lost", "failed"), ("kept", "created")):
        decision_id = f"dec_{name}"
        # What a gateway that lost its Redis mid-creation leaves: the agent landed,
        # and the log says the creation did not (or may not have) happen(ed).
        await world.gw.registry.create(
            AgentRecord.model_validate(
                {**agent, "id": f"acme/{name}", "name": name, "decision_id": decision_id}
            )
        )
        await world.gw.audit.append(outcome_record(decision_id, outcome, f"acme/{name}"))
        planted[name] = decision_id
    report = await world.gw.reconciler.named("test").run_once()
    assert set(world.agents()) == {"base", "kept"}
    removed = objs(report.result()["removed"])
    assert sorted((str(r["agent_id"]), str(r["decision_id"])) for r in removed) == [
        ("acme/limbo", "dec_limbo"),
        ("acme/lost", "dec_lost"),
    ]
    records = [r async for r in world.gw.audit.records() if r.type is RecordType.RECONCILE]
    assert records and records[-1].result["removed_count"] == 2
    # Done once: the next run finds nothing left to remove.
    again = await world.gw.reconciler.named("test").run_once()
    assert again.result()["removed"] == []

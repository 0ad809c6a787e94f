"""Serving the HTTP front: one process, or N worker processes on one port.

``spawngate serve --workers N`` runs N independent gateway processes (each
builds its own runtime: the replicas share nothing but Redis, as replicas on
several hosts do). Each worker binds its own listening socket with
``SO_REUSEPORT`` and the kernel spreads connections between them; no socket is
handed from a parent, because a socket passed that way loses its protocol
number and, with it, asyncio's ``TCP_NODELAY`` on accepted connections (Nagle
plus delayed ACKs cost about 40 ms per request). ``TCP_NODELAY`` is set on the
listening socket too, which Linux hands on to every accepted one.

The parent only supervises: a worker that dies is started again (after a
short pause, so a worker that cannot start does not spin), and SIGINT/SIGTERM
stop every worker gracefully (each finishes its requests and stops its
runtime) before the parent exits.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

import uvicorn
from prometheus_client import multiprocess

from gateway.fronts.http.app import create_app
from gateway.settings import Settings
from gateway.telemetry import configure_logging

__all__ = ["listening_socket", "serve"]

logger = logging.getLogger("spawngate.server")

#: How long a stopping worker may take before it is killed.
_GRACE_SECONDS = 30.0
#: The pause before a dead worker is started again.
_RESTART_PAUSE_SECONDS = 1.0


def listening_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A TCP listening socket created with its protocol number (see the module docstring)."""
    info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    family, kind, proto, _, address = info[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(address)
    sock.set_inheritable(True)
    return sock


def _config(settings: Settings) -> uvicorn.Config:
    # uvloop and httptools when installed (they are dependencies): "auto" picks them.
    # log_config=None: uvicorn's lines go through the structured logging set up by
    # configure_logging, not through handlers of its own.
    return uvicorn.Config(
        create_app(settings),
        log_level="info",
        loop="auto",
        http="auto",
        lifespan="on",
        log_config=None,
    )


def _worker(settings: Settings) -> None:
    # A spawned process starts with no logging configured.
    configure_logging(settings.log_format)
    sock = listening_socket(settings.host, settings.port, reuse_port=True)
    uvicorn.Server(_config(settings)).run(sockets=[sock])


def serve(settings: Settings, *, workers: int = 1) -> None:
    """Serve until interrupted; with ``workers`` > 1, as supervised worker processes."""
    if workers <= 1:
        sock = listening_socket(settings.host, settings.port, reuse_port=False)
        uvicorn.Server(_config(settings)).run(sockets=[sock])
        return
    _Supervisor(settings, workers).run()


class _Supervisor:
    def __init__(self, settings: Settings, workers: int) -> None:
        self._settings = settings
        self._count = workers
        # spawn, not fork: each worker imports and builds everything itself, with
        # no thread or native state copied from the parent.
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[BaseProcess] = []
        self._stopping = False

    def _metrics_dir(self) -> None:
        """Every worker's metrics in files, so that a scrape of any worker sums them all.

        Set before the first worker starts (they inherit the environment) and
        emptied first: values of workers from an earlier run must not be added in.
        """
        directory = Path(self._settings.data_dir) / "metrics"
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)

    def _start_one(self) -> BaseProcess:
        process = self._context.Process(
            target=_worker, args=(self._settings,), name="spawngate-worker", daemon=False
        )
        process.start()
        logger.info("worker %s started", process.pid)
        return process

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    def run(self) -> None:
        previous = {s: signal.signal(s, self._stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._metrics_dir()
            self._workers = [self._start_one() for _ in range(self._count)]
            while not self._stopping:
                for index, process in enumerate(self._workers):
                    if not process.is_alive() and not self._stopping:
                        logger.error(
                            "worker %s exited with %s; starting another",
                            process.pid,
                            process.exitcode,
                        )
                        if process.pid is not None:
                            # Its live gauges stop counting; its counters stay summed.
                            multiprocess.mark_process_dead(process.pid)  # type: ignore[no-untyped-call]
                        time.sleep(_RESTART_PAUSE_SECONDS)
                        self._workers[index] = self._start_one()
                time.sleep(0.2)
        finally:
            self._shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _shutdown(self) -> None:
        for process in self._workers:
            if process.is_alive() and process.pid is not None:
                # uvicorn stops gracefully on SIGTERM: in-flight requests finish,
                # then the lifespan stops the worker's runtime.
                process.terminate()
        deadline = time.monotonic() + _GRACE_SECONDS
        for process in self._workers:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                logger.error("worker %s did not stop in time; killing it", process.pid)
                process.kill()
                process.join()

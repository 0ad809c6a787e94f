"""The Rust engine: Microsoft's ``regorus`` interpreter in-process.

Same ``policies/`` files and data, same two entry points, same verdict parser as
the rego-cpp engine (``embedded``) and OPA; chosen with
``SPAWNGATE_POLICY_ENGINE=regorus``. Measured with ``bench/bench_policy.py``
against rego-cpp on the same inputs, it answers the admission query about twice
as fast and the danger query six to eight times as fast (README "Benchmarks").

The input goes in as JSON text serialised once by orjson (one crossing into
Rust instead of one call per value), and the answer comes back as JSON text.

regorus resolves a function reference only when a rule calling it is first
evaluated, so building the engine evaluates both entry points once on an empty
input: a policy that does not resolve is refused at load (``ValueError``, as
the rego-cpp engine's compile step does), not on the first request.

A regorus ``Engine`` belongs to the thread that made it: used on another one,
it panics; dropped on another one, it leaks. Revisions are loaded on a worker
thread and serve on the event loop's, so the load checks the policy on an
engine it drops itself, and the serving engine is built by the first query, on
the thread that then owns it (the event loop's, in a gateway), and dropped there
by ``aclose`` (``PolicyHolder.reload`` closes the revision it replaces). A query
from any other thread builds an engine for itself (correct, and slow: tooling
and tests only).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import orjson
import regorus

from gateway.policy.engine import Entrypoint, PolicyVerdict, parse_verdict, policy_unavailable
from gateway.policy.files import PolicyFiles

__all__ = ["RegorusEngine"]


def _rule(entrypoint: Entrypoint) -> str:
    return "data." + entrypoint.value.replace("/", ".")


def _message(exc: BaseException) -> str:
    # regorus appends a Rust stack trace when RUST_BACKTRACE is set: keep the log readable.
    return str(exc).split("Stack backtrace:", 1)[0].strip()


def _build(data: str, modules: list[tuple[str, str]], rules: list[str]) -> Any:
    """An engine loaded with the policy, every entry point evaluated once (on an empty input)."""
    engine = regorus.Engine()
    try:
        engine.add_data_json(data)
        for name, source in modules:
            engine.add_policy(name, source)
        engine.set_input_json("{}")
        for rule in rules:
            engine.eval_rule_as_json(rule)
    except RuntimeError as exc:
        raise ValueError(f"policy does not compile: {_message(exc)}") from exc
    return engine


class RegorusEngine:
    name = "regorus"

    def __init__(self, files: PolicyFiles, *, revision: str | None = None) -> None:
        self._revision = revision or files.revision
        self._rules = {e: _rule(e) for e in Entrypoint}
        self._data = orjson.dumps(files.data).decode()
        self._modules = sorted(files.serving_modules().items())
        # The check, on this thread, with an engine dropped on this thread.
        self._build()
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._serving: Any = None

    def _build(self) -> Any:
        return _build(self._data, self._modules, list(self._rules.values()))

    def _engine(self) -> Any:
        me = threading.get_ident()
        with self._lock:
            if self._serving is None:
                self._serving, self._owner = self._build(), me
            if self._owner == me:
                return self._serving
        return self._build()

    @property
    def revision(self) -> str:
        return self._revision

    async def evaluate(self, entrypoint: Entrypoint, document: Mapping[str, Any]) -> PolicyVerdict:
        # Synchronous on purpose, as the rego-cpp engine: a query costs less than
        # a hop to a worker thread.
        try:
            # The same files passed the check at load: a ValueError here is an engine failure.
            engine = self._engine()
            engine.set_input_json(orjson.dumps(document).decode())
            answer = engine.eval_rule_as_json(self._rules[entrypoint])
        except (ValueError, RuntimeError, TypeError) as exc:
            raise policy_unavailable(f"policy evaluation failed: {_message(exc)}") from exc
        except BaseException as exc:
            # A Rust panic reaches Python as pyo3's PanicException, which derives from
            # BaseException: still an engine failure, so the request is denied and recorded.
            if type(exc).__module__ != "pyo3_runtime":
                raise
            raise policy_unavailable(f"the policy engine panicked: {_message(exc)}") from exc
        # An undefined entry point comes back as the string "<undefined>", which
        # parse_verdict refuses like any other non-verdict: the request is denied.
        return parse_verdict(orjson.loads(answer))

    async def ready(self) -> bool:
        return True

    async def aclose(self) -> None:
        # Dropped here when this is the owner's thread (the event loop's, in a gateway);
        # otherwise it goes with this object (and leaks if that is on another thread).
        with self._lock:
            if self._owner == threading.get_ident():
                self._serving = self._owner = None

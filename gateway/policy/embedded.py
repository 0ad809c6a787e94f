"""The embedded engine: the rego-cpp interpreter (``regopy``) in-process.

The policy is compiled once per revision into a bundle with the gateway's
entry points; each query then only sets the input and runs the plan (1.9 ms
for the admission query, 0.4 ms for the danger one, on bench/bench_policy.py's
inputs; compiling on every query costs more). The bundle is regopy's prepared
form: it has no separate prepared query to reuse. ``regorus`` (opt-in, see
policy/regorus.py) answers the same queries in 0.7 and 0.09 ms.

The input is built by ``policy/rego_input.py`` (a ctypes call per value, as
``regopy.Input`` makes, without its per-value wrappers: 180 instead of 260 µs
for the pipeline's input). JSON text through ``set_input_term`` was measured
and is slower: rego-cpp parses it as a Rego term (bench/bench_policy.py). The
``regorus`` engine takes JSON text.

Two rego-cpp limits shape how ``policies/`` is written (see policies/README.md):
``sprintf`` supports only simple verbs, so lists are formatted with
``concat``; and a test that replaces the *whole* input (``with input as {...}``)
crashes the interpreter, so policy tests replace top-level input keys instead
(``with input.request as {...}``), which OPA runs identically.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import regopy

from gateway.policy.engine import Entrypoint, PolicyVerdict, parse_verdict, policy_unavailable
from gateway.policy.files import PolicyFiles
from gateway.policy.rego_input import to_rego_input

__all__ = ["EmbeddedEngine", "compile_bundle"]


def _interpreter(files: PolicyFiles, modules: dict[str, str]) -> Any:
    rego = regopy.Interpreter()
    rego.add_data_json(json.dumps(files.data))
    for name, source in sorted(modules.items()):
        rego.add_module(name, source)
    return rego


def compile_bundle(files: PolicyFiles) -> tuple[Any, Any]:
    """Compile the serving modules; raise ValueError naming the problem if they do not."""
    rego = _interpreter(files, files.serving_modules())
    try:
        bundle = rego.build(None, [e.value for e in Entrypoint])
    except regopy.RegoError as exc:
        raise ValueError(f"policy does not compile: {exc}") from exc
    if not bundle.ok():
        raise ValueError("policy does not compile (the interpreter built no bundle)")
    return rego, bundle


class EmbeddedEngine:
    name = "embedded"

    def __init__(self, files: PolicyFiles, *, revision: str | None = None) -> None:
        self._revision = revision or files.revision
        self._rego, self._bundle = compile_bundle(files)

    @property
    def revision(self) -> str:
        return self._revision

    async def evaluate(self, entrypoint: Entrypoint, document: Mapping[str, Any]) -> PolicyVerdict:
        # Synchronous on purpose: a query is a fraction of a millisecond, less
        # than a hop to a worker thread, and the interpreter is not shared
        # between threads.
        try:
            self._rego.set_input(to_rego_input(document))
            output = self._rego.query_bundle_entrypoint(self._bundle, entrypoint.value)
        except (regopy.RegoError, ValueError) as exc:
            raise policy_unavailable(f"policy evaluation failed: {exc}") from exc
        if not output.ok():
            raise policy_unavailable(f"policy evaluation failed: {output}")
        # regopy has already parsed the answer into results: reuse it rather than
        # serialising it back to text and parsing it a second time.
        expressions = output[0].expressions if len(output) else None
        if not expressions:
            raise policy_unavailable(f"policy returned nothing for {entrypoint.value}")
        return parse_verdict(expressions[0])

    async def ready(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None

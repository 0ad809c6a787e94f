"""spawngate: a policy-as-code governance gateway for AI agents that create other agents."""

import ctypes
import logging
import os
import sys
from typing import TYPE_CHECKING

# One C++ allocator for the whole process. The embedded Rego interpreter's
# library (regopy's librego_shared.so) exports its own operator new/delete
# (snmalloc); google-re2's extension and libstdc++ use glibc's. Both load
# RTLD_LOCAL, so whichever loads libstdc++ first decides where libstdc++'s own
# new/delete calls go, and memory allocated by one allocator is handed to the
# other: with regopy first, RE2's DFA memory is never given back (880 MB on the
# first pass over the danger corpus, still growing); with google-re2 first,
# every Rego query leaks ~60 KB. Putting libstdc++ in the global scope before
# either loads binds every library's new/delete to libstdc++'s, in any import
# order (measured: bench/bench_memory.py, README "Benchmarks").
_NATIVE = ("regopy", "re2")
_late = [name for name in _NATIVE if name in sys.modules]
try:
    ctypes.CDLL("libstdc++.so.6", mode=os.RTLD_GLOBAL)
except OSError as exc:
    logging.getLogger("spawngate.native").warning(
        "libstdc++ could not be loaded globally (%s): the Rego interpreter and "
        "google-re2 may mix allocators, and the gateway's memory may grow",
        exc,
    )
if _late:
    logging.getLogger("spawngate.native").warning(
        "%s was imported before gateway: its C++ allocator may not match the other "
        "native libraries, and the gateway's memory may grow; import gateway first",
        ", ".join(_late),
    )
del _late

if TYPE_CHECKING:
    # What type checkers see; at run time the same names resolve lazily below.
    from gateway.admission.answer import AdmissionAnswer
    from gateway.contract.request import AgentKind
    from gateway.errors import SpawngateError
    from gateway.runtime import Gateway
    from gateway.settings import Settings

__version__ = "0.1.0"

#: The public surface (pinned by tests/test_public_surface.py): build a gateway from
#: settings, submit creation requests, read answers and errors. Everything else is
#: internal and may move between releases.
__all__ = [
    "AdmissionAnswer",
    "AgentKind",
    "Gateway",
    "Settings",
    "SpawngateError",
    "__version__",
]

_EXPORTS = {
    "AdmissionAnswer": "gateway.admission.answer",
    "AgentKind": "gateway.contract.request",
    "Gateway": "gateway.runtime",
    "Settings": "gateway.settings",
    "SpawngateError": "gateway.errors",
}


def __getattr__(name: str) -> object:
    # Lazy (PEP 562): importing a small module of the package must not build the
    # whole runtime, and the allocator set-up above must run before any of it.
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gateway' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)

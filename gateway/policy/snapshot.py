"""Policy revisions: what decides a request, swapped atomically on reload.

A ``PolicySnapshot`` is everything that turns facts into a verdict: the Rego
engine, the Casbin authorizer, the blueprint catalog, and the revision that
names them. A request takes the current snapshot once, when it starts, and
uses only that one, so a reload can never half-evaluate a request or mix two
revisions in one decision, and every decision records the revision that
actually decided it.

The revision is the git commit of ``policies/`` and ``templates/`` when they
are a clean git checkout, and a content hash of the files otherwise (a dirty
tree is not what the commit says).

``PolicyHolder.reload`` builds a new snapshot off the event loop and refuses a
revision that fails ``spawngate policy check``: the previous one keeps
deciding, and the refusal is logged and shown on ``/healthz``. ``watch`` polls
the two directories and reloads when a file changes.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.policy.blueprints import TemplateCatalog
from gateway.policy.casbin import Authorizer
from gateway.policy.embedded import EmbeddedEngine
from gateway.policy.engine import PolicyEngine
from gateway.policy.files import PolicyFiles, load_policy_files, visible_files
from gateway.policy.opa import OpaEngine
from gateway.policy.tooling.check import Problem, check_policies
from gateway.settings import PolicyEngineKind, Settings
from gateway.telemetry import Metrics

__all__ = ["PolicyHolder", "PolicyRejected", "PolicySnapshot", "load_snapshot", "revision_of"]

logger = logging.getLogger("spawngate.policy")


class PolicyRejected(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        shown = "; ".join(str(p) for p in problems[:5])
        more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"policy refused, {len(problems)} problem(s): {shown}{more}")


@dataclass(frozen=True)
class PolicySnapshot:
    revision: str
    engine: PolicyEngine
    authorizer: Authorizer
    catalog: TemplateCatalog
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: The policy data files of this revision (``data.spawngate...``), for advice that
    #: reads them without deciding anything (discovery suggestions).
    data: Mapping[str, Any] = field(default_factory=dict)


def _files_of(*dirs: Path) -> list[Path]:
    return [p for d in dirs for p in visible_files(d)]


def _content_hash(policies: Path, templates: Path) -> str:
    digest = hashlib.sha256()
    for base in (policies, templates):
        for path in _files_of(base):
            digest.update(f"{base.name}/{path.relative_to(base).as_posix()}".encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()[:16]


def _git(directory: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(  # noqa: S603 - fixed git arguments, no shell
            ["git", "-C", str(directory), *args],  # noqa: S607 - git from PATH, as a developer runs it
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _glob_escape(path: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", path)


def revision_of(policies: Path, templates: Path) -> str:
    roots = [str(policies.resolve()), str(templates.resolve())]
    # Hidden paths below each root are not policy (see gateway.policy.files): an
    # untracked .idea/ must not turn a clean checkout into a content hash.
    hidden = [
        f":(exclude,glob){_glob_escape(r)}/**/.*{tail}" for r in roots for tail in ("", "/**")
    ]
    paths = [*roots, *hidden]
    status = _git(policies, "status", "--porcelain", "--untracked-files=all", "--", *paths)
    if status == "":
        commit = _git(policies, "log", "-1", "--format=%H", "--", *paths)
        if commit:
            return "git:" + commit[:12]
    return _content_hash(policies, templates)


def load_snapshot(
    settings: Settings, *, policies: Path | None = None, templates: Path | None = None
) -> PolicySnapshot:
    """Check and load one revision; raise ``PolicyRejected`` naming every problem."""
    policies = policies or settings.policies_dir
    templates = templates or settings.templates_dir
    problems, _ = check_policies(policies, templates)
    if problems:
        raise PolicyRejected(problems)
    revision = revision_of(policies, templates)
    files = load_policy_files(policies)
    engine: PolicyEngine
    if settings.policy_engine is PolicyEngineKind.OPA:
        token = settings.opa_token.get_secret_value() if settings.opa_token else None
        engine = OpaEngine(
            settings.opa_url, revision=revision, timeout=settings.opa_timeout_seconds, token=token
        )
    elif settings.policy_engine is PolicyEngineKind.REGORUS:
        engine = _regorus(files, revision)
    else:
        engine = EmbeddedEngine(files, revision=revision)
    return PolicySnapshot(
        revision=revision,
        engine=engine,
        authorizer=Authorizer(policies),
        catalog=TemplateCatalog.load(templates),
        data=files.data,
    )


def _regorus(files: PolicyFiles, revision: str) -> PolicyEngine:
    # Imported only when chosen: the binding is an optional extra (pyproject.toml).
    try:
        from gateway.policy.regorus import RegorusEngine
    except ImportError as exc:
        raise ValueError(
            "SPAWNGATE_POLICY_ENGINE=regorus needs the optional regorus binding: "
            "pip install 'spawngate[regorus]'"
        ) from exc
    return RegorusEngine(files, revision=revision)


def _fingerprint(*dirs: Path) -> tuple[tuple[str, int, int], ...]:
    out = []
    for path in _files_of(*dirs):
        try:
            stat = path.stat()
        except FileNotFoundError:
            # Removed since it was listed (an editor saving): the next poll sees the result.
            continue
        out.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(out)


class PolicyHolder:
    def __init__(
        self, settings: Settings, current: PolicySnapshot, *, metrics: Metrics | None = None
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self.current = current
        if metrics is not None:
            metrics.set_revision(current.revision, current.engine.name)
        #: The shadow (candidate) revision, if shadow mode is on and it loads.
        self.shadow: PolicySnapshot | None = None
        self.shadow_error: str | None = None
        self.last_error: str | None = None
        self.last_attempt: datetime | None = None
        self.reloads = 0
        self._seen = self._fingerprint()
        self._lock = asyncio.Lock()
        self._load_shadow()

    def _dirs(self) -> tuple[Path, ...]:
        dirs = [self._settings.policies_dir, self._settings.templates_dir]
        if self._settings.shadow_policies_dir is not None:
            dirs.append(self._settings.shadow_policies_dir)
        return tuple(dirs)

    def _fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        return _fingerprint(*self._dirs())

    def _load_shadow(self) -> None:
        """A shadow that fails its check is switched off and reported; live never depends on it."""
        directory = self._settings.shadow_policies_dir
        if directory is None:
            return
        # OPA serves one bundle, not the candidate: the shadow runs in-process, on the
        # live in-process engine when there is one.
        kind = self._settings.policy_engine
        if kind is PolicyEngineKind.OPA:
            kind = PolicyEngineKind.EMBEDDED
        try:
            shadow = load_snapshot(
                self._settings.model_copy(update={"policy_engine": kind}), policies=directory
            )
        except (PolicyRejected, ValueError) as exc:
            self.shadow, self.shadow_error = None, str(exc)
            logger.error("shadow policies %s refused: %s", directory, exc)
            return
        self.shadow, self.shadow_error = shadow, None

    async def reload(self) -> bool:
        """Load the files as they are now; swap them in only if they pass the check."""
        async with self._lock:
            self._seen = self._fingerprint()
            self.last_attempt = datetime.now(UTC)
            previous_shadow = self.shadow
            await asyncio.to_thread(self._load_shadow)
            if previous_shadow is not None and previous_shadow is not self.shadow:
                # Closed here, on the thread that served it (a regorus engine is bound to it).
                await previous_shadow.engine.aclose()
            try:
                candidate = await asyncio.to_thread(load_snapshot, self._settings)
            # OSError: a file removed or unreadable mid-load; the watcher tries again later.
            except (PolicyRejected, ValueError, OSError) as exc:
                self.last_error = str(exc)
                if self._metrics is not None:
                    self._metrics.hot_reloads.labels("rejected").inc()
                logger.error(
                    "policy reload refused; revision %s keeps deciding: %s",
                    self.current.revision,
                    exc,
                )
                return False
            if candidate.revision == self.current.revision:
                self.last_error = None
                return False
            # One assignment: every reader sees the old snapshot or the new one.
            previous, self.current = self.current, candidate
            self.last_error = None
            self.reloads += 1
            if self._metrics is not None:
                self._metrics.hot_reloads.labels("applied").inc()
                self._metrics.set_revision(candidate.revision, candidate.engine.name)
            logger.info("policy revision %s replaces %s", candidate.revision, previous.revision)
            await previous.engine.aclose()
            return True

    def changed(self) -> bool:
        return self._fingerprint() != self._seen

    async def watch(self, interval: float) -> None:
        """Poll for changed files and reload; runs until cancelled."""
        while True:
            await asyncio.sleep(interval)
            if self.changed():
                await self.reload()

    async def aclose(self) -> None:
        await self.current.engine.aclose()

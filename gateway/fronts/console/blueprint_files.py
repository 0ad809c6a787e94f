"""Blueprint files written from the console: checked, logged, written, then reloaded.

Blueprints stay files. A console change is written to this deployment's
templates directory (``Settings.templates_dir``), where git, the revision and
``spawngate policy check`` already look, so there is no second source of
templates to reconcile (unlike tenant settings, which are an override layer
in Redis because the configuration file is not policy and has no revision).
Each change is:

1. checked by ``check_policies`` on a copy of the directory with the change
   applied (the very check a reload runs): any problem refuses it and nothing
   is written;
2. recorded in the decision log (a ``template`` record: who, the action, the
   file before and after), so a change that cannot be logged is not made;
3. written atomically (a hidden temporary file, then a rename), and the policy
   reloaded at once, so the next decision uses it under a new revision.

Retiring moves the file to ``<templates>/.retired/``: hidden, so neither loaded
nor part of the revision; new requests naming it are denied as an unknown
template, agents made from it are untouched; *restore* moves it back (checked too).
When the directory is a git work tree, the page says which files differ from
the last commit, to be committed in a reviewed change.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gateway.audit.record import AuditRecord, RecordType
from gateway.contract.request import IDENT_PATTERN
from gateway.errors import Conflict, InvalidRequest, NotFound
from gateway.identity.authenticator import Principal
from gateway.policy.tooling.check import Problem, check_policies
from gateway.runtime import Gateway

__all__ = ["RETIRED", "TemplateFiles", "digest"]

#: Retired blueprints, kept beside the live ones (hidden: never loaded).
RETIRED = ".retired"


def digest(text: str | None) -> str:
    """What an edit form was opened on: a later save over a changed file is refused."""
    return hashlib.sha256((text or "").encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class _Change:
    action: str
    name: str
    before: str | None
    after: str | None


class TemplateFiles:
    def __init__(self, gw: Gateway) -> None:
        self._gw = gw
        self.directory = gw.settings.templates_dir
        self.retired_dir = self.directory / RETIRED

    def _path(self, name: str) -> Path:
        return self.directory / f"{_checked(name)}.yaml"

    def _retired(self, name: str) -> Path:
        return self.retired_dir / f"{_checked(name)}.yaml"

    def text(self, name: str) -> str | None:
        path = self._path(name)
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def retired(self) -> list[str]:
        if not self.retired_dir.is_dir():
            return []
        return sorted(p.stem for p in self.retired_dir.glob("*.yaml"))

    def uncommitted(self) -> list[str] | None:
        """Files of the directory that differ from git's last commit; None outside git."""
        status = _git(self.directory, "status", "--porcelain", "--untracked-files=all", "--", ".")
        if status is None:
            return None
        return [line[3:] for line in status.splitlines() if line.strip()]

    def problems(self, changes: dict[str, str | None]) -> list[Problem]:
        """``spawngate policy check`` over the directory as it would be after ``changes``
        (file name -> new text, or None to remove it)."""
        with tempfile.TemporaryDirectory(prefix="sg-templates-") as tmp:
            staged = Path(tmp) / self.directory.name
            shutil.copytree(self.directory, staged, ignore=shutil.ignore_patterns(".*"))
            for name, text in changes.items():
                target = staged / f"{name}.yaml"
                if text is None:
                    target.unlink(missing_ok=True)
                else:
                    target.write_text(text, encoding="utf-8")
            found, _ = check_policies(self._gw.settings.policies_dir, staged)
        return found

    async def save(
        self, principal: Principal, name: str, text: str, *, base: str | None
    ) -> list[Problem]:
        """Create (``base`` None) or edit a blueprint; the checker's problems if refused."""
        before = self.text(name)
        if base is None and (before is not None or self._retired(name).is_file()):
            raise Conflict(f"a template '{name}' exists already (retired ones too)")
        if base is not None and before is None:
            raise NotFound(f"no template '{name}'")
        if base is not None and digest(before) != base:
            raise Conflict(
                f"template '{name}' changed since you opened it: reload and edit it again",
                code="template_changed",
            )
        found = await asyncio.to_thread(self.problems, {name: text})
        if found:
            return found
        change = _Change("created" if before is None else "edited", name, before, text)
        await self._apply(principal, change, lambda: _write(self._path(name), text))
        return []

    async def retire(self, principal: Principal, name: str) -> list[Problem]:
        before = self.text(name)
        if before is None:
            raise NotFound(f"no template '{name}'")
        found = await asyncio.to_thread(self.problems, {name: None})
        if found:
            return found

        def move() -> None:
            self.retired_dir.mkdir(exist_ok=True)
            os.replace(self._path(name), self._retired(name))

        await self._apply(principal, _Change("retired", name, before, None), move)
        return []

    async def restore(self, principal: Principal, name: str) -> list[Problem]:
        source = self._retired(name)
        if not source.is_file():
            raise NotFound(f"no retired template '{name}'")
        if self._path(name).exists():
            raise Conflict(f"a live template '{name}' exists: retire or rename it first")
        text = source.read_text(encoding="utf-8")
        found = await asyncio.to_thread(self.problems, {name: text})
        if found:
            return found
        change = _Change("restored", name, None, text)
        await self._apply(principal, change, lambda: os.replace(source, self._path(name)))
        return []

    async def _apply(
        self, principal: Principal, change: _Change, write: Callable[[], None]
    ) -> None:
        gw = self._gw
        # The log first: a change that cannot be recorded is not made.
        await gw.audit.append(
            AuditRecord(
                type=RecordType.TEMPLATE,
                decision_id="dec_" + uuid.uuid4().hex,
                timestamp=datetime.now(UTC),
                path="spawngate/templates",
                tenant=principal.tenant,
                principal=principal.id,
                input={"template": change.name, "action": change.action},
                result={
                    "action": f"template_{change.action}",
                    "template": change.name,
                    "before": change.before,
                    "after": change.after,
                    "file": f"{self.directory.name}/{change.name}.yaml",
                },
                bundles={"spawngate": {"revision": gw.policy_revision}},
                labels={"app": "spawngate", "front": "console"},
            )
        )
        write()
        # In effect now on this replica; others see it through their watcher when
        # they share the directory (README "Web console").
        await gw.policy.reload()
        if gw.policy.last_error:
            raise InvalidRequest(
                f"written, but the reload refused it: {gw.policy.last_error}",
                code="template_reload_refused",
                stage=None,
            )


def _checked(name: str) -> str:
    # A name from a URL never reaches the file system unless it is a blueprint name.
    if not re.fullmatch(IDENT_PATTERN, name):
        raise NotFound(f"no template '{name}'")
    return name


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _git(directory: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(  # noqa: S603 - fixed git arguments, no shell
            ["git", "-C", str(directory), *args],  # noqa: S607 - git from PATH
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None

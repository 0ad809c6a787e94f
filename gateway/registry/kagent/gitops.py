"""GitOps mode: manifests written into a directory, committed when it is a git work tree,
for Argo CD or Flux to apply.

Layout: ``<path>/<namespace>/<name>.yaml``, one Agent per file. The directory is
what spawngate has decided (reads and name checks look there). When ``path`` is
in a git work tree, each decision is one commit:

- on ``branch`` when one is set: the checked-out branch gets an ordinary commit
  of the one file; another branch gets the commit without being checked out;
- otherwise on its own branch ``spawngate/<decision id>`` from HEAD, holding only
  that decision: one pull request per decision, for a human or a bot to merge.

A retirement is a commit removing the file (on ``spawngate/retire-<decision id>``
without a branch). Activity (``touch``) only rewrites the file: it is state, not
a change to review. Pushing is left to the operator (a CI job or a git remote
hook): spawngate holds no credentials for the remote.

Creation is exclusive (the file is created with O_EXCL) and git runs one
command at a time per registry (a lock), so two decisions cannot both take a
name. A failed commit removes the file again: no half-created agent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import tempfile
from pathlib import Path

import yaml

from gateway.errors import UpstreamFailed
from gateway.registry.kagent.manifest import LABEL_TENANT, decision_of
from gateway.registry.kagent.target import Manifest, taken

__all__ = ["GitOpsTarget"]

logger = logging.getLogger("spawngate.registry")
DEPENDENCY = "registry"
_AUTHOR = {
    "GIT_AUTHOR_NAME": "spawngate",
    "GIT_AUTHOR_EMAIL": "spawngate@localhost",
    "GIT_COMMITTER_NAME": "spawngate",
    "GIT_COMMITTER_EMAIL": "spawngate@localhost",
}


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the system prompt) as YAML blocks, readable in a pull request."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def _yaml(manifest: Manifest) -> str:
    return yaml.dump(manifest, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def _failed(detail: str, reason: str) -> UpstreamFailed:
    logger.warning("kagent gitops: %s", detail)
    return UpstreamFailed(reason, dependency=DEPENDENCY, stage="create")


class GitOpsTarget:
    mode = "gitops"
    complete = True

    def __init__(self, path: Path, *, branch: str | None, timeout: float) -> None:
        self._path = path
        self._branch = branch
        self._timeout = timeout
        self._lock = asyncio.Lock()

    def _file(self, namespace: str, name: str) -> Path:
        return self._path / namespace / f"{name}.yaml"

    def _git(self, *args: str, index: str | None = None, stdin: str | None = None) -> str:
        env = {**os.environ, **_AUTHOR}
        if index is not None:
            env["GIT_INDEX_FILE"] = index
        done = subprocess.run(  # noqa: S603 - fixed git arguments, no shell
            ["git", "-C", str(self._path), *args],  # noqa: S607 - git from PATH
            capture_output=True, text=True, timeout=self._timeout, check=False, env=env,
            input=stdin,
        )  # fmt: skip
        if done.returncode != 0:
            raise _failed(f"git {' '.join(args)}: {done.stderr.strip()}", "the git commit failed")
        return done.stdout.strip()

    def _in_git(self) -> bool:
        done = subprocess.run(  # noqa: S603 - fixed git arguments, no shell
            ["git", "-C", str(self._path), "rev-parse", "--is-inside-work-tree"],  # noqa: S607
            capture_output=True, text=True, timeout=self._timeout, check=False,
        )  # fmt: skip
        return done.returncode == 0 and done.stdout.strip() == "true"

    def _commit(self, file: Path, present: bool, branch: str, message: str) -> None:
        """One commit of ``file`` (added or removed) on ``branch``."""
        top = Path(self._git("rev-parse", "--show-toplevel")).resolve()
        relative = file.resolve().relative_to(top).as_posix()
        current = subprocess.run(  # noqa: S603
            ["git", "-C", str(self._path), "symbolic-ref", "--short", "-q", "HEAD"],  # noqa: S607
            capture_output=True, text=True, timeout=self._timeout, check=False,
        ).stdout.strip()  # fmt: skip
        if branch == current:
            self._git("-C", str(top), "add", "-A", "--", relative)
            self._git("-C", str(top), "commit", "-q", "-m", message, "--", relative)
            return
        # Another branch: build the commit with a private index, touching no checkout.
        ref = f"refs/heads/{branch}"
        try:
            parent = self._git("rev-parse", "--verify", "-q", ref)
        except UpstreamFailed:
            parent = self._git("rev-parse", "HEAD")
        with tempfile.TemporaryDirectory() as scratch:
            index = str(Path(scratch) / "index")
            self._git("read-tree", parent, index=index)
            if present:
                blob = self._git("hash-object", "-w", str(file))
                info = f"100644,{blob},{relative}"
                self._git("update-index", "--add", "--cacheinfo", info, index=index)
            else:
                self._git("update-index", "--force-remove", relative, index=index)
            tree = self._git("write-tree", index=index)
        commit = self._git("commit-tree", tree, "-p", parent, "-m", message)
        self._git("update-ref", ref, commit)

    async def create(self, manifest: Manifest) -> None:
        meta = manifest["metadata"]
        ns, name, decision = meta["namespace"], meta["name"], decision_of(manifest)
        async with self._lock:
            await asyncio.to_thread(self._create, manifest, ns, name, decision)

    def _create(self, manifest: Manifest, ns: str, name: str, decision: str) -> None:
        file = self._file(ns, name)
        text = _yaml(manifest)
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            with file.open("x", encoding="utf-8") as out:
                out.write(text)
        except FileExistsError:
            if decision_of(self._load(file) or {}) == decision:
                return  # this very creation, seen again
            raise taken(ns, name) from None
        except OSError as exc:
            raise _failed(f"write {file}: {exc!r}", "the manifest could not be written") from exc
        if not self._in_git():
            return
        branch = self._branch or f"spawngate/{decision}"
        try:
            self._commit(file, True, branch, f"spawngate: create Agent {ns}/{name}\n\n{decision}")
        except (UpstreamFailed, subprocess.TimeoutExpired) as exc:
            file.unlink(missing_ok=True)  # no half-created agent
            if isinstance(exc, UpstreamFailed):
                raise
            raise _failed(f"git timed out committing {file}", "the git commit failed") from exc

    @staticmethod
    def _load(file: Path) -> Manifest | None:
        try:
            loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            return None
        return loaded if isinstance(loaded, dict) else None

    async def read(self, namespace: str, name: str) -> Manifest | None:
        return await asyncio.to_thread(self._load, self._file(namespace, name))

    async def listing(self, namespace: str, tenant: str) -> list[Manifest]:
        def scan() -> list[Manifest]:
            files = sorted((self._path / namespace).glob("*.yaml"))
            found = [m for m in map(self._load, files) if m is not None]
            return [
                m
                for m in found
                if m.get("metadata", {}).get("labels", {}).get(LABEL_TENANT) == tenant
            ]

        return await asyncio.to_thread(scan)

    async def remove(self, namespace: str, name: str, decision_id: str) -> bool:
        async with self._lock:
            return await asyncio.to_thread(self._remove, namespace, name, decision_id)

    def _remove(self, namespace: str, name: str, decision_id: str) -> bool:
        file = self._file(namespace, name)
        found = self._load(file)
        if found is None or decision_of(found) != decision_id:
            return False
        file.unlink()
        if self._in_git():
            branch = self._branch or f"spawngate/retire-{decision_id}"
            message = f"spawngate: remove Agent {namespace}/{name}\n\n{decision_id}"
            self._commit(file, False, branch, message)
        return True

    async def annotate(
        self, namespace: str, name: str, annotations: dict[str, str]
    ) -> Manifest | None:
        def write() -> Manifest | None:
            file = self._file(namespace, name)
            found = self._load(file)
            if found is None:
                return None
            found.setdefault("metadata", {}).setdefault("annotations", {}).update(annotations)
            file.write_text(_yaml(found))
            return found

        async with self._lock:
            return await asyncio.to_thread(write)

    async def aclose(self) -> None:
        return None

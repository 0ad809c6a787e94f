"""GitOps mode against a real git repository in a temporary directory."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from gateway.errors import Conflict, UpstreamFailed
from gateway.policy.snapshot import PolicyHolder
from gateway.registry.kagent.build import kagent_registry
from gateway.registry.kagent.registry import KagentRegistry
from gateway.settings import Settings
from tests.registry.kagent.conftest import record_for

pytestmark = pytest.mark.asyncio

DECISION = "dec_0123456789abcdef0123456789abcdef"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "fleet"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("agents\n")
    git(path, "add", "README.md")
    git(path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    return path


def gitops(path: Path, policy: PolicyHolder, branch: str | None = None) -> KagentRegistry:
    settings = Settings(
        data_dir=path.parent,
        registry="kagent",
        kagent_mode="gitops",
        kagent_gitops_path=path,
        kagent_gitops_branch=branch,
    )
    return kagent_registry(settings, policy, tenants=("acme",))


async def test_each_decision_is_a_commit_on_its_own_branch(
    repo: Path, policy: PolicyHolder
) -> None:
    registry = gitops(repo, policy)
    record = record_for("media-generator")
    assert await registry.create(record) == record
    branch = f"spawngate/{DECISION}"
    assert git(repo, "branch", "--list", branch, "--format=%(refname:short)") == branch
    assert git(repo, "diff", "--name-only", "main", branch) == "acme/diagram-agent.yaml"
    assert DECISION in git(repo, "log", "-1", "--format=%B", branch)
    # The checked-out branch is untouched: the change waits for its pull request.
    assert git(repo, "rev-list", "--count", "main") == "1"
    assert git(repo, "symbolic-ref", "--short", "HEAD") == "main"
    committed = yaml.safe_load(git(repo, "show", f"{branch}:acme/diagram-agent.yaml"))
    assert committed["metadata"]["annotations"]["spawngate.dev/decision-id"] == DECISION
    assert committed["spec"]["declarative"]["systemMessage"] == record.system_prompt
    # The directory is what spawngate decided: reads see the agent.
    assert await registry.get("acme", "diagram-agent") == record
    assert await registry.search("acme", capability=None, name_contains="diagram", limit=5) == [
        record
    ]


async def test_configured_branch_checked_out_gets_a_plain_commit(
    repo: Path, policy: PolicyHolder
) -> None:
    registry = gitops(repo, policy, branch="main")
    record = record_for("default")
    await registry.create(record)
    assert git(repo, "rev-list", "--count", "main") == "2"
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "show", "--name-only", "--format=%s", "main") == (
        "spawngate: create Agent acme/diagram-agent\n\nacme/diagram-agent.yaml"
    )
    with pytest.raises(Conflict):
        await registry.create(record_for("default", decision="dec_" + "f" * 32))
    assert await registry.create(record) == record  # the same decision again: done
    assert await registry.retire(record) is True
    assert git(repo, "rev-list", "--count", "main") == "3"
    assert not (repo / "acme" / "diagram-agent.yaml").exists()
    assert git(repo, "status", "--porcelain") == ""


async def test_configured_branch_not_checked_out_is_committed_without_checkout(
    repo: Path, policy: PolicyHolder
) -> None:
    registry = gitops(repo, policy, branch="agents")
    await registry.create(record_for("default"))
    assert git(repo, "rev-list", "--count", "agents") == "2"
    assert git(repo, "rev-list", "--count", "main") == "1"


async def test_failed_commit_leaves_no_agent(repo: Path, policy: PolicyHolder) -> None:
    registry = gitops(repo, policy, branch="bad..name")
    with pytest.raises(UpstreamFailed) as caught:
        await registry.create(record_for("default"))
    assert caught.value.reason == "the git commit failed"
    assert not (repo / "acme" / "diagram-agent.yaml").exists()
    assert await registry.get("acme", "diagram-agent") is None


async def test_plain_directory_gets_the_file_only(tmp_path: Path, policy: PolicyHolder) -> None:
    registry = gitops(tmp_path / "out", policy)
    record = record_for("default", ttl=60)
    await registry.create(record)
    assert (tmp_path / "out" / "acme" / "diagram-agent.yaml").is_file()
    assert record.expires_at is not None
    assert await registry.expiring(record.expires_at, 5) == [("acme", "diagram-agent")]

"""The command tree of ``spawngate``, pinned: every group, command, option and argument.

The CLI is split into one module per command group; a command dropped or renamed by
a later split (or an option lost on the way) fails here rather than in a user's script.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import typer

from gateway.fronts.cli.main import app, main

EXPECTED: dict[str, list[str]] = {
    "serve": ["--host", "--port", "--workers"],
    "decide": ["--key", "--kind", "FILE"],
    "reconcile": ["--json"],
    "mcp": ["--key", "--stdio"],
    "danger eval": ["--by", "--held-out", "--json", "--scorer", "--threshold", "DIRECTORY"],
    "danger lexicon": ["--at-most", "DIRECTORY"],
    "policy test": ["--policies", "--verbose", "-v"],
    "policy check": ["--policies", "--templates"],
    "policy manifest": ["--policies"],
    "policy replay": [
        "--jobs",
        "--json",
        "--policies",
        "--records",
        "--since",
        "--templates",
        "--tenant",
    ],
    "policy shadow-report": ["--json", "--records", "--since"],
    "approvals list": ["--key"],
    "approvals show": ["--key", "REQUEST_ID"],
    "approvals approve": ["--key", "--note", "REQUEST_ID"],
    "approvals deny": ["--key", "--note", "REQUEST_ID"],
    "audit verify": ["--anchor", "--records"],
    "audit query": [
        "--creator",
        "--decision-id",
        "--json",
        "--records",
        "--since",
        "--template",
        "--tenant",
        "--until",
        "--verdict",
    ],
    "audit export": ["--format", "--out"],
    "agents sweep": ["--dry-run", "--json", "--now"],
    "swarm report": ["--days", "--json", "--tenant", "--until"],
    "notifications dead-letters": ["--json", "--limit", "--tenant"],
    "receipt verify": ["--json", "--key", "FILE"],
    "registry audit": ["--json", "--key"],
}


def _tree(command: Any, path: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Leaf commands by their full path, each with its option flags and argument names.

    Typer ships its own copy of click, so groups are found by their ``commands``
    attribute rather than by an isinstance check against ``click.Group``."""
    commands = getattr(command, "commands", None)
    if commands is None:
        return {
            " ".join(path): sorted(
                flag
                for param in command.params
                for flag in (
                    param.opts if param.param_type_name == "option" else [param.name.upper()]
                )
            )
        }
    tree: dict[str, list[str]] = {}
    for name, sub in commands.items():
        tree.update(_tree(sub, (*path, name)))
    return tree


def test_every_command_and_option_is_there() -> None:
    assert _tree(typer.main.get_command(app)) == EXPECTED


def test_groups_and_root_commands_in_help_order() -> None:
    root = typer.main.get_command(app)
    assert list(getattr(root, "commands", {})) == [
        "serve",
        "decide",
        "reconcile",
        "mcp",
        "danger",
        "policy",
        "approvals",
        "audit",
        "agents",
        "swarm",
        "notifications",
        "receipt",
        "registry",
    ]


def test_both_entry_points_reach_the_same_tree(tmp_path: Path) -> None:
    # The console script (pyproject.toml) and `python -m gateway` share main().
    (script,) = entry_points(group="console_scripts", name="spawngate")
    assert script.value == "gateway.fronts.cli.main:main"
    assert script.load() is main
    shown = subprocess.run(
        [sys.executable, "-m", "gateway", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "SPAWNGATE_DATA_DIR": str(tmp_path)},
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    for group in ("serve", "decide", "reconcile", "mcp", "danger", "policy", "approvals", "audit"):
        assert group in shown.stdout

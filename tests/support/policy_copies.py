"""Copies of the shipped policies, edited the way a security team would edit them."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from gateway.settings import PROJECT_ROOT


def candidate_with_ceiling(tmp_path: Path, ceiling: int) -> Path:
    """A copy of policies/ whose hard cost ceiling is `ceiling` instead of 100."""
    policies = Path(tempfile.mkdtemp(dir=tmp_path)) / "candidate"
    shutil.copytree(PROJECT_ROOT / "policies", policies)
    data = policies / "spawngate" / "cost" / "data.yaml"
    text = data.read_text()
    data.write_text(
        text[: text.index("hard_max_cost_per_day:")] + f"hard_max_cost_per_day: {ceiling}\n"
    )
    return policies

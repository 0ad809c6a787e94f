"""The dashboard and alert rules in deploy/ name only metrics that /metrics serves."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from gateway.settings import PROJECT_ROOT
from tests.conftest import bearer

_NAME = re.compile(r"\bspawngate_[a-z_]+")
#: Series names a family exposes besides its own (counters, histograms).
_SUFFIXES = ("", "_total", "_bucket", "_count", "_sum", "_created")


def _alert_exprs() -> list[str]:
    rules = yaml.safe_load((PROJECT_ROOT / "deploy/prometheus/alerts.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    board: dict[str, Any] = json.loads((PROJECT_ROOT / "deploy/grafana/spawngate.json").read_text())
    return [t["expr"] for panel in board["panels"] for t in panel["targets"]]


@pytest.mark.asyncio
async def test_every_metric_in_deploy_is_served(client: httpx.AsyncClient) -> None:
    # One decision so that labelled families have samples.
    await client.post("/v1/create_agent", json={"name": "d-1"}, headers=bearer("orchestrator"))
    text = (await client.get("/metrics")).text
    served = {
        family.name + suffix
        for family in text_string_to_metric_families(text)
        for suffix in _SUFFIXES
    }
    named = {name for expr in _alert_exprs() + _dashboard_exprs() for name in _NAME.findall(expr)}
    assert named, "no metric named in deploy/"
    assert named <= served, sorted(named - served)
    assert len(_alert_exprs()) >= 5 and len(_dashboard_exprs()) >= 10


def test_deploy_files_are_where_the_readme_says() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    for path in ("deploy/prometheus/alerts.yml", "deploy/grafana/spawngate.json"):
        assert (PROJECT_ROOT / path).is_file() and path in readme

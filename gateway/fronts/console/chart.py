"""A server-rendered SVG bar chart: decisions per outcome per hour (no script, no CDN)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

__all__ = ["OUTCOMES", "decisions_chart", "hourly"]

#: Outcome -> fill colour (contrast of at least 3:1 on white for graphics).
OUTCOMES = {"allow": "#1a7f37", "review": "#9a6700", "deny": "#cf222e"}
_W, _H, _PAD = 720, 220, 30


def hourly(records: list[dict[str, Any]], hours: int, now: datetime) -> list[Counter[str]]:
    """Decision records counted per outcome, one Counter per hour, oldest first."""
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    buckets: list[Counter[str]] = [Counter() for _ in range(hours)]
    for r in records:
        if r.get("type") != "decision":
            continue
        verdict = str((r.get("result") or {}).get("verdict", ""))
        try:
            stamp = datetime.fromisoformat(str(r.get("timestamp"))).astimezone(UTC)
        except ValueError:
            continue
        index = int((stamp - start).total_seconds() // 3600)
        if 0 <= index < hours and verdict in OUTCOMES:
            buckets[index][verdict] += 1
    return buckets


def decisions_chart(buckets: list[Counter[str]], now: datetime) -> str:
    hours = len(buckets)
    top = max([sum(b.values()) for b in buckets] + [1])
    width = (_W - 2 * _PAD) / max(hours, 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H + 40}" '
        'role="img" aria-labelledby="chart-title" class="chart">',
        '<title id="chart-title">Decisions per outcome per hour, last '
        f"{hours} hours (highest hour: {top})</title>",
        f'<line x1="{_PAD}" y1="{_H}" x2="{_W - _PAD}" y2="{_H}" stroke="#57606a"/>',
    ]
    for i, bucket in enumerate(buckets):
        y = float(_H)
        for outcome, colour in OUTCOMES.items():
            n = bucket.get(outcome, 0)
            if not n:
                continue
            h = (_H - _PAD) * n / top
            y -= h
            parts.append(
                f'<rect x="{_PAD + i * width + 1:.1f}" y="{y:.1f}" width="{width - 2:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{n} {escape(outcome)}</title></rect>'
            )
        if i % 6 == 0:
            label = (now - timedelta(hours=hours - 1 - i)).strftime("%H:00")
            parts.append(
                f'<text x="{_PAD + i * width:.1f}" y="{_H + 16}" font-size="11" '
                f'fill="#24292f">{label}</text>'
            )
    for j, (outcome, colour) in enumerate(OUTCOMES.items()):
        x = _PAD + j * 110
        parts.append(f'<rect x="{x}" y="{_H + 24}" width="12" height="12" fill="{colour}"/>')
        parts.append(
            f'<text x="{x + 16}" y="{_H + 34}" font-size="12" fill="#24292f">{outcome}</text>'
        )
    parts.append(f'<text x="{_PAD}" y="16" font-size="11" fill="#24292f">max {top}/h</text>')
    parts.append("</svg>")
    return "".join(parts)

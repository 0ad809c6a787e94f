"""The danger scorer interface: a proposed agent in, a score in [0, 1] with findings out.

The score is an input to policy (policies/spawngate/danger), not a verdict:
the threshold and what happens above it are policy. What is scored is the
whole proposed agent: its texts *and* its grants and place in the lineage.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Category", "DangerReport", "Finding", "Proposal", "Scorer"]


class Category(StrEnum):
    INSTRUCTION_OVERRIDE = "instruction_override"
    REVIEWER_INJECTION = "reviewer_injection"
    PROMPT_INJECTION = "prompt_injection"
    DATA_EXFILTRATION = "data_exfiltration"
    DESTRUCTIVE_ACTION = "destructive_action"
    PRIVILEGE_ESCALATION = "privilege_escalation"
    SELF_REPLICATION = "self_replication"
    DECEPTION = "deception"
    DANGEROUS_GRANTS = "dangerous_grants"


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    category: Category
    #: The signal that fired, e.g. "override-previous-instructions".
    signal: str
    #: What triggered it: the phrase as written, or the grant.
    evidence: str
    #: Where: "instructions", "role", "system_prompt", "tools" ...
    field: str
    weight: float = Field(ge=0, le=1)


class DangerReport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    score: float = Field(ge=0, le=1)
    categories: tuple[Category, ...]
    findings: tuple[Finding, ...]
    scorer: str
    version: str
    input_hash: str
    #: A configured reviewer failed: policy must send the request to a human.
    reviewer_unavailable: bool = False


class Proposal(BaseModel):
    """Everything about the agent that would be created."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: str
    role: str | None = None
    instructions: str | None = None
    system_prompt: str | None = None
    expertise: str | None = None
    justification: str | None = None
    template: str | None = None
    tools: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()
    depth: int = 1

    def texts(self) -> dict[str, str]:
        fields = {
            "name": self.name,
            "role": self.role,
            "instructions": self.instructions,
            "expertise": self.expertise,
            "justification": self.justification,
        }
        return {k: v for k, v in fields.items() if v}

    def fingerprint(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class Scorer(Protocol):
    name: str
    version: str

    async def score(self, proposal: Proposal) -> DangerReport: ...

"""Danger in what an agent is granted, not in what it is told.

Tools by what they expose: agent creation, shell / cluster / container access,
credential stores, and the "lethal trifecta" of private-data access, untrusted
content and an outbound channel held by one agent. Tool names are the
registry's; teams extend these sets.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.danger.base import Category, Finding, Proposal

__all__ = ["grant_findings"]

SPAWNING_TOOLS = frozenset({"create_agent", "create_sme"})
SYSTEM_TOOLS = frozenset({"shell", "bash", "kubectl", "docker", "terraform", "ssh", "exec"})
CREDENTIAL_TOOLS = frozenset(
    {"secrets_read", "vault", "password_manager", "aws_credentials", "keychain"}
)
PRIVATE_DATA_TOOLS = frozenset(
    {
        "email_read",
        "file_read",
        "filesystem",
        "db_query",
        "crm_read",
        "repo_read",
        "drive_read",
        "secrets_read",
        "vault",
        "calendar_read",
    }
)
UNTRUSTED_INPUT_TOOLS = frozenset(
    {"web_fetch", "web_search", "browser", "email_read", "slack_read"}
)
OUTBOUND_TOOLS = frozenset(
    {"email_send", "http_post", "webhook", "slack_post", "sms_send", "browser"}
)


def grant_findings(proposal: Proposal) -> list[Finding]:
    """One finding per dangerous grant or grant combination of the proposal."""
    tools = set(proposal.tools)
    caps = set(proposal.capabilities)
    out: list[Finding] = []

    def grant(category: Category, signal: str, evidence: Iterable[str], weight: float) -> None:
        out.append(
            Finding.model_construct(
                category=category,
                signal=signal,
                evidence=", ".join(sorted(evidence)),
                field="tools",
                weight=weight,
            )
        )

    if spawning := tools & SPAWNING_TOOLS:
        grant(Category.SELF_REPLICATION, "can-create-agents", spawning, 0.35)
    if system := (tools & SYSTEM_TOOLS) | (caps & {"shell", "kubernetes", "docker"}):
        grant(Category.DANGEROUS_GRANTS, "system-access", system, 0.3)
    if creds := tools & CREDENTIAL_TOOLS:
        grant(Category.DANGEROUS_GRANTS, "credential-access", creds, 0.35)
    private, untrusted, outbound = (
        tools & PRIVATE_DATA_TOOLS,
        tools & UNTRUSTED_INPUT_TOOLS,
        tools & OUTBOUND_TOOLS,
    )
    if private and untrusted and outbound:
        grant(
            Category.DANGEROUS_GRANTS,
            "lethal-trifecta",
            private | untrusted | outbound,
            0.6,
        )
    return out

"""Issuing receipts at creation, and checking one against the agent it was issued for.

The runtime builds one ``ReceiptIssuer`` from the settings (``from_settings``) and
hands it to the create stage; the verifying side (``spawngate receipt verify``,
the drift audit) only needs a public key and ``check``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.receipts.keys import key_id, resolve_signing_key
from gateway.receipts.token import VERSION, Receipt, receipt_error, request_hash, sign, verify
from gateway.settings import Settings

__all__ = ["ReceiptIssuer", "check"]


class ReceiptIssuer:
    def __init__(self, key: Ed25519PrivateKey, *, ttl_seconds: int) -> None:
        self._key = key
        self._ttl = timedelta(seconds=ttl_seconds)
        self.public_key: Ed25519PublicKey = key.public_key()
        self.kid = key_id(self.public_key)

    @classmethod
    def from_settings(cls, settings: Settings) -> ReceiptIssuer:
        return cls(resolve_signing_key(settings), ttl_seconds=settings.receipt_ttl_seconds)

    def issue(
        self,
        *,
        decision_id: str,
        tenant: str,
        name: str,
        creator: str,
        request: Mapping[str, Any],
        policy_revision: str,
        tools: Iterable[str],
        now: datetime,
        agent_expires_at: datetime | None,
    ) -> str:
        """A signed receipt; it expires with the agent's ttl if that comes sooner."""
        expires = now + self._ttl
        if agent_expires_at is not None:
            expires = min(expires, agent_expires_at)
        receipt = Receipt(
            v=VERSION,
            kid=self.kid,
            decision_id=decision_id,
            agent=f"{tenant}/{name}",
            tenant=tenant,
            creator=creator,
            request_hash=request_hash(request),
            policy_revision=policy_revision,
            tools=tuple(sorted(set(tools))),
            iat=int(now.timestamp()),
            exp=int(expires.timestamp()),
        )
        return sign(receipt, self._key)


def check(
    token: str,
    key: Ed25519PublicKey,
    *,
    agent_id: str | None = None,
    decision_id: str | None = None,
    tools: Iterable[str] | None = None,
    now: datetime | None = None,
) -> Receipt:
    """``verify``, then that the receipt is this agent's and grants every tool it holds."""
    receipt = verify(token, key, now=now)
    if agent_id is not None and receipt.agent != agent_id:
        raise receipt_error("mismatch", f"the receipt is for {receipt.agent}, not {agent_id}")
    if decision_id is not None and receipt.decision_id != decision_id:
        raise receipt_error(
            "mismatch",
            f"the receipt is of decision {receipt.decision_id}, the agent of {decision_id}",
        )
    if tools is not None:
        extra = receipt.tools_beyond(tools)
        if extra:
            raise receipt_error(
                "tools_exceeded", f"tools beyond the receipt's grant: {', '.join(extra)}"
            )
    return receipt

"""The admission receipt: what was allowed, signed, in one compact token.

Format (version 1)::

    <base64url(payload JSON)> "." <base64url(Ed25519 signature)>

base64url without padding; the signature is over the ASCII bytes of the first
segment (as in JWS), so a verifier never has to re-serialise JSON to check it.
The payload is one JSON object (``Receipt``): ``v`` (1), ``kid`` (the signing key's
id, ``gateway.receipts.keys.key_id``), ``decision_id``, ``agent`` (``<tenant>/<name>``),
``tenant``, ``creator``, ``request_hash``, ``policy_revision``, ``tools`` (granted,
sorted), ``iat`` and ``exp`` (Unix seconds).

``request_hash`` is ``sha256:`` + the hex SHA-256 of the canonical JSON (keys
sorted, no spaces, UTF-8) of the normalised request, exactly as the decision
log records it in the decision record's ``input``: so an auditor can tie a
receipt to its decision record by recomputing it.

Failures are ``InvalidRequest`` with a code a caller can act on:
``receipt_malformed``, ``receipt_bad_signature``, ``receipt_expired``, and (for a
receipt checked against an agent or manifest) ``receipt_mismatch`` and
``receipt_tools_exceeded``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, ValidationError

from gateway.errors import InvalidRequest
from gateway.receipts.keys import key_id

__all__ = [
    "RECEIPT_ANNOTATION",
    "Receipt",
    "receipt_error",
    "request_hash",
    "sign",
    "verify",
]

#: The manifest annotation that carries the token (kagent Agents, gateway.registry.kagent).
RECEIPT_ANNOTATION = "spawngate.dev/receipt"
VERSION = 1


class Receipt(BaseModel):
    """The signed payload. Unknown fields are refused: everything signed is understood."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: int
    kid: str
    decision_id: str
    agent: str
    tenant: str
    creator: str
    request_hash: str
    policy_revision: str
    tools: tuple[str, ...]
    iat: int
    exp: int

    @property
    def name(self) -> str:
        return self.agent.split("/", 1)[-1]

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.exp, UTC)

    def tools_beyond(self, tools: Iterable[str]) -> list[str]:
        """Tools in ``tools`` that this receipt did not grant."""
        return sorted(set(tools) - set(self.tools))


def receipt_error(code: str, reason: str) -> InvalidRequest:
    return InvalidRequest(reason, code=f"receipt_{code}", stage="receipt")


def request_hash(normalised: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the canonical JSON of the normalised request (module doc)."""
    canonical = json.dumps(normalised, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    if not text or any(c not in _ALPHABET for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def sign(receipt: Receipt, key: Ed25519PrivateKey) -> str:
    payload = json.dumps(receipt.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    head = _b64url(payload.encode("utf-8"))
    return f"{head}.{_b64url(key.sign(head.encode('ascii')))}"


def verify(token: str, key: Ed25519PublicKey, *, now: datetime | None = None) -> Receipt:
    """The receipt in ``token`` if ``key`` signed it and it has not expired; else raises."""
    parts = token.strip().split(".")
    if len(parts) != 2:
        raise receipt_error("malformed", "a receipt is two base64url segments joined by '.'")
    try:
        payload, signature = _unb64url(parts[0]), _unb64url(parts[1])
    except (ValueError, binascii.Error) as exc:
        raise receipt_error("malformed", f"a receipt segment is not base64url: {exc}") from exc
    try:
        key.verify(signature, parts[0].encode("ascii"))
    except InvalidSignature as exc:
        raise receipt_error("bad_signature", _signature_problem(payload, key)) from exc
    try:
        receipt = Receipt.model_validate(json.loads(payload))
    except (ValueError, ValidationError) as exc:
        # Signed by our key but unreadable: a newer format, or a bug; never trusted.
        raise receipt_error("malformed", f"the receipt payload is not readable: {exc}") from exc
    if receipt.v != VERSION:
        raise receipt_error("malformed", f"receipt version {receipt.v}; this verifier reads 1")
    moment = now or datetime.now(UTC)
    if receipt.exp <= moment.timestamp():
        raise receipt_error("expired", f"the receipt expired at {receipt.expires_at.isoformat()}")
    return receipt


def _signature_problem(payload: bytes, key: Ed25519PublicKey) -> str:
    """Why the signature failed, as precisely as the (untrusted) payload lets us say."""
    try:
        claimed = json.loads(payload).get("kid")
    except (ValueError, AttributeError):
        claimed = None
    mine = key_id(key)
    if isinstance(claimed, str) and claimed != mine:
        return f"the signature does not verify: signed by key {claimed}, not by key {mine}"
    return f"the signature does not verify with key {mine}: the receipt was altered"

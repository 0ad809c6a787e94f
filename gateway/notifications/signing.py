"""The signature on everything the gateway POSTs to a receiver (approval callbacks
and swarm webhooks): ``X-Spawngate-Signature: sha256=<hex>``, the HMAC-SHA256 of
the exact body bytes with ``SPAWNGATE_WEBHOOK_SECRET``."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "signature"]

SIGNATURE_HEADER = "X-Spawngate-Signature"


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()

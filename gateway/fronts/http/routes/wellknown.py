"""Discovery documents: the receipt-signing public key, and the A2A cards of created agents.

``GET /.well-known/spawngate-receipt-key`` is public (a public key): a JWK Set, with
the same key as PEM in its ``pem`` member (JWK Set readers ignore it). Anyone
holding it verifies receipts offline (``spawngate receipt verify --key FILE``).

``GET /a2a/{tenant}/{name}/.well-known/agent-card.json`` serves the A2A Agent Card of
an active agent (gateway.registry.a2a), 404 for an unknown, retired, expired or
inactive one. Cards are discovery metadata, but they name a tenant's agents and
skills: by default only a key of that tenant may read them (any role: discovery,
not administration), and a key of another tenant gets the same 404 as an unknown
agent, so existence does not leak across tenants. ``SPAWNGATE_A2A_CARDS_PUBLIC=true``
serves them to anyone, for orchestrators that fetch cards without credentials.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from gateway.errors import NotFound
from gateway.fronts.http.deps import Runtime
from gateway.fronts.http.shapes import error_responses
from gateway.receipts.keys import public_jwk, public_pem
from gateway.registry.a2a import CARD_PATH, card_json
from gateway.registry.base import is_active

__all__ = ["router"]

router = APIRouter(tags=["discovery"])

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"


class ReceiptJwk(BaseModel):
    kty: str = Field(description="OKP")
    crv: str = Field(description="Ed25519")
    x: str = Field(description="The public key, base64url")
    kid: str = Field(description="Key id: the first 16 hex digits of SHA-256 of the key")
    use: str
    alg: str


class ReceiptKey(BaseModel):
    """A JWK Set (RFC 7517) of the one signing key, with the same key as PEM beside it."""

    keys: list[ReceiptJwk]
    pem: str = Field(description="The same public key, PEM (SubjectPublicKeyInfo)")


class AgentCardAnswer(BaseModel):
    """An A2A Agent Card, in the a2a-sdk's JSON form (the main fields; the rest as sent)."""

    model_config = ConfigDict(extra="allow")

    name: str
    description: str
    supportedInterfaces: list[dict[str, Any]]  # the A2A field names, camelCase
    version: str
    capabilities: dict[str, Any]
    defaultInputModes: list[str]
    defaultOutputModes: list[str]
    skills: list[dict[str, Any]]


@router.get(
    "/.well-known/spawngate-receipt-key",
    summary="The public key that verifies admission receipts (JWK Set, and PEM)",
    response_model=ReceiptKey,
    responses=error_responses(404, 500),
)
async def receipt_key(gw: Runtime) -> ReceiptKey:
    if gw.receipts is None:
        raise NotFound("this gateway issues no receipts")
    key = gw.receipts.public_key
    return ReceiptKey(keys=[ReceiptJwk(**public_jwk(key))], pem=public_pem(key))


@router.get(
    CARD_PATH,
    summary="The A2A Agent Card of a created agent",
    response_model=AgentCardAnswer,
    responses=error_responses(401, 403, 404, 422, 500, 502, 503),
)
async def agent_card(
    gw: Runtime,
    tenant: Annotated[str, Path(pattern=_NAME)],
    name: Annotated[str, Path(pattern=_NAME)],
    authorization: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    unknown = NotFound(f"no agent '{name}' in tenant '{tenant}'")
    if not gw.settings.a2a_cards_public:
        principal = await gw.reads.authenticate(authorization)
        if principal.tenant != tenant:
            raise unknown
    record = await gw.registry.get(tenant, name)
    if record is None or not is_active(record, datetime.now(UTC)):
        raise unknown
    return JSONResponse(card_json(record, gw.settings.a2a_base_url))

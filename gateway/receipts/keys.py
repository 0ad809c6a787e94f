"""The Ed25519 key that signs admission receipts, and the public forms it is published in.

The private key is ``SPAWNGATE_RECEIPT_KEY`` when set (a PKCS#8 PEM, or the base64 of
the 32 raw private bytes); otherwise one is generated once into
``<data_dir>/receipt-signing.key`` (PKCS#8 PEM, mode 0600), like the audit
checkpoint key: that suits a single host. Replicas on several hosts must share a
configured key, or each would sign with its own and a verifier holding one public
key would refuse the others' receipts.

A verifier never creates a key (``load_signing_key``); it reads a public key as PEM
(SubjectPublicKeyInfo), a JWK or JWK Set (what ``/.well-known/spawngate-receipt-key``
serves), or derives it from a private key in either of the forms above.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.errors import InvalidRequest
from gateway.settings import Settings

__all__ = [
    "KEY_FILE_NAME",
    "key_id",
    "load_signing_key",
    "parse_public_key",
    "public_jwk",
    "public_pem",
    "read_public_key",
    "resolve_signing_key",
]

KEY_FILE_NAME = "receipt-signing.key"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    """Standard or URL-safe base64, padded or not."""
    cleaned = "".join(text.split())
    padded = cleaned + "=" * (-len(cleaned) % 4)
    return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)


def _bad_key(reason: str) -> InvalidRequest:
    return InvalidRequest(reason, code="receipt_key_invalid", stage="receipt")


def _private_from_text(text: str) -> Ed25519PrivateKey:
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(_b64decode(text))
    except (ValueError, TypeError, UnsupportedAlgorithm, binascii.Error) as exc:
        raise _bad_key(f"not an Ed25519 private key (PEM or base64 of 32 bytes): {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise _bad_key("the receipt key must be an Ed25519 key")
    return key


def _pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def resolve_signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The configured key, else the data dir's key file, created on first use (0600)."""
    if settings.receipt_key is not None:
        return _private_from_text(settings.receipt_key.get_secret_value())
    path = settings.data_dir / KEY_FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _private_from_text(path.read_text(encoding="utf-8"))
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(_pem(Ed25519PrivateKey.generate()))
        fh.flush()
        os.fsync(fh.fileno())
    return _private_from_text(path.read_text(encoding="utf-8"))


def load_signing_key(settings: Settings) -> Ed25519PrivateKey | None:
    """The key for verifying locally, never created: a verifier must not invent a key."""
    if settings.receipt_key is not None:
        return _private_from_text(settings.receipt_key.get_secret_value())
    path = settings.data_dir / KEY_FILE_NAME
    return _private_from_text(path.read_text(encoding="utf-8")) if path.exists() else None


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """A short, stable name of a public key: the first 16 hex digits of SHA-256 of its bytes."""
    return hashlib.sha256(_raw(key)).hexdigest()[:16]


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    """RFC 8037 form: an OKP key on Ed25519, for the EdDSA algorithm."""
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": _b64url(_raw(key)),
        "kid": key_id(key),
        "use": "sig",
        "alg": "EdDSA",
    }


def _from_jwk(item: Any) -> Ed25519PublicKey:
    if isinstance(item, dict) and isinstance(item.get("keys"), list) and item["keys"]:
        item = item["keys"][0]
    if not isinstance(item, dict) or item.get("kty") != "OKP" or item.get("crv") != "Ed25519":
        raise _bad_key("the JWK is not an OKP Ed25519 key")
    try:
        return Ed25519PublicKey.from_public_bytes(_b64decode(str(item.get("x", ""))))
    except (ValueError, binascii.Error) as exc:
        raise _bad_key(f"the JWK's x is not an Ed25519 public key: {exc}") from exc


def parse_public_key(text: str) -> Ed25519PublicKey:
    """A public key from PEM, JWK, JWK Set, or a private key (its public half)."""
    text = text.strip()
    if text.startswith("{"):
        try:
            return _from_jwk(json.loads(text))
        except json.JSONDecodeError as exc:
            raise _bad_key(f"the key file is not valid JSON: {exc}") from exc
    if text.startswith("-----BEGIN PUBLIC KEY"):
        try:
            key = serialization.load_pem_public_key(text.encode())
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise _bad_key(f"not a PEM public key: {exc}") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise _bad_key("the public key is not an Ed25519 key")
        return key
    return _private_from_text(text).public_key()


def read_public_key(path: Path) -> Ed25519PublicKey:
    return parse_public_key(path.read_text(encoding="utf-8"))

"""``spawngate receipt``: check admission receipts offline (gateway.receipts).

``verify FILE`` reads a bare receipt, a kagent Agent manifest (YAML or JSON) with
the ``spawngate.dev/receipt`` annotation, or an agent record, and checks each
receipt: the signature (with ``--key``, a public key as PEM, JWK or the JWK Set of
``/.well-known/spawngate-receipt-key``; else this host's signing key, never
created here), the expiry, that it is the agent's own receipt, and that the agent
holds no tool beyond the receipt's grant. Exit 0 when every receipt is valid, 1
when one is not (the reason on stderr), 2 when there is no key to check with.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.errors import SpawngateError
from gateway.fronts.cli.common import load_settings
from gateway.receipts.issuer import check
from gateway.receipts.keys import load_signing_key, read_public_key
from gateway.receipts.manifest import Subject, subjects_of
from gateway.receipts.token import Receipt, receipt_error

__all__ = ["receipt_app"]

receipt_app = typer.Typer(help="Check signed admission receipts offline.", no_args_is_help=True)


def _key(path: Path | None) -> Ed25519PublicKey:
    try:
        if path is not None:
            return read_public_key(path)
        private = load_signing_key(load_settings())
    except (OSError, SpawngateError) as exc:
        typer.secho(f"no usable key: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    if private is None:
        typer.secho(
            "no key: pass --key (the gateway's /.well-known/spawngate-receipt-key), or set "
            "SPAWNGATE_RECEIPT_KEY / SPAWNGATE_DATA_DIR to where the signing key is",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(2)
    return private.public_key()


def _check(subject: Subject, key: Ed25519PublicKey) -> Receipt:
    receipt = check(
        subject.token,
        key,
        agent_id=subject.agent_id,
        decision_id=subject.decision_id,
        tools=subject.tools,
    )
    if subject.name is not None and receipt.name != subject.name:
        raise receipt_error("mismatch", f"the receipt is for {receipt.agent}, not {subject.name}")
    return receipt


@receipt_app.command()
def verify(
    file: Annotated[
        Path, typer.Argument(help="A manifest, agent record or receipt ('-' for stdin).")
    ],
    key: Annotated[
        Path | None,
        typer.Option("--key", help="Public key file (PEM, JWK or JWK Set); default: local key."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Verify every receipt in FILE. Exit 0 all valid, 1 one is not, 2 no key."""
    text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    public = _key(key)
    results: list[dict[str, object]] = []
    failures: list[str] = []
    try:
        subjects = subjects_of(text)
    except SpawngateError as exc:
        results.append({"what": str(file), "valid": False, "code": exc.code, "reason": exc.reason})
        failures.append(f"invalid: {file}: {exc.code}: {exc.reason}")
        subjects = []
    for subject in subjects:
        try:
            receipt = _check(subject, public)
        except SpawngateError as exc:
            results.append(
                {"what": subject.what, "valid": False, "code": exc.code, "reason": exc.reason}
            )
            failures.append(f"invalid: {subject.what}: {exc.code}: {exc.reason}")
            continue
        results.append({"what": subject.what, "valid": True, **receipt.model_dump()})
        if not as_json:
            typer.echo(
                f"valid: {subject.what}: decision {receipt.decision_id}, agent {receipt.agent}, "
                f"tools [{', '.join(receipt.tools)}], expires {receipt.expires_at.isoformat()}"
            )
    if as_json:
        typer.echo(json.dumps({"valid": not failures, "receipts": results}, indent=2))
    for line in failures:
        typer.secho(line, fg=typer.colors.RED, err=True)
    raise typer.Exit(1 if failures else 0)

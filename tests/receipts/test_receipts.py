"""Signed admission receipts: issued on creation, verified with the published key,
refused with the reason when altered, expired, signed by another key, or when a
manifest holds tools beyond the grant (``spawngate receipt verify`` as a subprocess)."""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from gateway.audit.log import RecordType
from gateway.errors import InvalidRequest
from gateway.receipts.keys import KEY_FILE_NAME, parse_public_key, public_pem, resolve_signing_key
from gateway.receipts.token import RECEIPT_ANNOTATION, request_hash, verify
from gateway.runtime import Gateway
from gateway.settings import Settings
from tests.conftest import MakeSettings, bearer

RESEARCHER = {
    "name": "paper-finder",
    "template": "researcher",
    "capabilities": ["literature_review"],
}


async def _created(client: httpx.AsyncClient, body: dict[str, Any] = RESEARCHER) -> dict[str, Any]:
    r = await client.post("/v1/create_agent", json=body, headers=bearer("orchestrator"))
    assert r.status_code == 201, r.text
    answer: dict[str, Any] = r.json()
    return answer


async def _published_key(client: httpx.AsyncClient) -> str:
    r = await client.get("/.well-known/spawngate-receipt-key")
    assert r.status_code == 200
    return r.text


def _reason(exc: pytest.ExceptionInfo[InvalidRequest]) -> str:
    return f"{exc.value.code}: {exc.value.reason}"


async def test_a_created_agent_carries_a_receipt_that_verifies_with_the_published_key(
    client: httpx.AsyncClient, gateway: Gateway
) -> None:
    answer = await _created(client)
    token = answer["receipt"]
    assert answer["agent"]["receipt"] == token
    receipt = verify(token, parse_public_key(await _published_key(client)))
    agent = answer["agent"]
    assert receipt.decision_id == answer["decision_id"] == agent["decision_id"]
    assert receipt.agent == "acme/paper-finder" and receipt.tenant == "acme"
    assert receipt.creator == agent["created_by"]
    assert list(receipt.tools) == sorted(agent["tools"]) and receipt.tools
    assert receipt.policy_revision == answer["policy_revision"]
    assert receipt.iat <= datetime.now(UTC).timestamp() < receipt.exp
    # The request hash is that of the decision record's input: an auditor recomputes it.
    records = await gateway.audit.read()
    decision = next(
        r for r in records if r.type is RecordType.DECISION and r.decision_id == receipt.decision_id
    )
    assert receipt.request_hash == request_hash(decision.input)
    # The outcome record carries it, so the log alone says what was issued.
    outcome = next(
        r for r in records if r.type is RecordType.OUTCOME and r.decision_id == receipt.decision_id
    )
    assert outcome.result["receipt"] == token
    # The registry keeps it too (kagent puts it in the manifest's annotation).
    shown = await client.get("/v1/agents/paper-finder", headers=bearer("orchestrator"))
    assert shown.json()["receipt"] == token


async def test_the_published_key_is_a_jwk_set_with_pem(client: httpx.AsyncClient) -> None:
    body = json.loads(await _published_key(client))
    (jwk,) = body["keys"]
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and jwk["alg"] == "EdDSA"
    assert public_pem(parse_public_key(json.dumps(jwk))) == body["pem"]
    assert public_pem(parse_public_key(body["pem"])) == body["pem"]


async def test_altered_expired_and_foreign_receipts_are_refused_with_the_reason(
    client: httpx.AsyncClient,
) -> None:
    token = (await _created(client))["receipt"]
    key = parse_public_key(await _published_key(client))
    head, signature = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    payload["tools"] = [*payload["tools"], "shell"]
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()

    with pytest.raises(InvalidRequest) as altered:
        verify(f"{forged}.{signature}", key)
    assert altered.value.code == "receipt_bad_signature", _reason(altered)
    assert "altered" in altered.value.reason

    with pytest.raises(InvalidRequest) as expired:
        verify(token, key, now=datetime.now(UTC) + timedelta(days=91))
    assert expired.value.code == "receipt_expired", _reason(expired)

    with pytest.raises(InvalidRequest) as foreign:
        verify(token, Ed25519PrivateKey.generate().public_key())
    assert foreign.value.code == "receipt_bad_signature"
    assert "signed by key" in foreign.value.reason

    for broken in ("", "abc", "a.b.c", "!!.??"):
        with pytest.raises(InvalidRequest) as malformed:
            verify(broken, key)
        assert malformed.value.code == "receipt_malformed", broken


async def test_a_ttl_agent_s_receipt_expires_with_it(client: httpx.AsyncClient) -> None:
    answer = await _created(client, {**RESEARCHER, "name": "brief", "ttl_seconds": 600})
    key = parse_public_key(await _published_key(client))
    receipt = verify(answer["receipt"], key)
    assert receipt.exp - receipt.iat <= 601


def test_the_generated_key_is_private_and_a_configured_key_wins(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    settings = make_settings(data_dir=tmp_path / "keys")
    generated = resolve_signing_key(settings)
    path = tmp_path / "keys" / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert resolve_signing_key(settings).public_key() == generated.public_key()

    other = Ed25519PrivateKey.generate()
    raw = other.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    for value in (
        base64.b64encode(raw).decode(),
        other.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode(),
    ):
        configured = make_settings(data_dir=tmp_path / "keys", receipt_key=value)
        assert resolve_signing_key(configured).public_key() == other.public_key()


# -- spawngate receipt verify, as a subprocess --------------------------------------------


def _cli(args: list[str], settings: Settings) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SPAWNGATE_DATA_DIR": str(settings.data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "gateway", "receipt", "verify", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def _manifest(name: str, token: str, tools: list[str]) -> dict[str, Any]:
    """A kagent Agent (v1alpha2) as /work/shared/data/kagent describes it."""
    return {
        "apiVersion": "kagent.dev/v1alpha2",
        "kind": "Agent",
        "metadata": {
            "name": name,
            "namespace": "acme",
            "annotations": {RECEIPT_ANNOTATION: token},
        },
        "spec": {
            "type": "Declarative",
            "description": "found papers",
            "declarative": {
                "systemMessage": "You find papers.",
                "modelConfig": "default-model-config",
                "tools": [
                    {
                        "type": "McpServer",
                        "mcpServer": {
                            "apiGroup": "kagent.dev",
                            "kind": "RemoteMCPServer",
                            "name": "spawngate-tools",
                            "toolNames": tools,
                        },
                    }
                ],
            },
        },
    }


async def test_receipt_verify_accepts_the_manifest_and_refuses_extra_tools(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    answer = await _created(client)
    token, tools = answer["receipt"], list(answer["agent"]["tools"])
    good = tmp_path / "agent.yaml"
    good.write_text(yaml.safe_dump(_manifest("paper-finder", token, tools)))
    ok = _cli([str(good)], settings)
    assert ok.returncode == 0, ok.stderr
    assert "valid: Agent paper-finder" in ok.stdout

    greedy = tmp_path / "greedy.json"
    greedy.write_text(json.dumps(_manifest("paper-finder", token, [*tools, "shell"])))
    refused = _cli([str(greedy)], settings)
    assert refused.returncode == 1
    assert "receipt_tools_exceeded" in refused.stderr and "shell" in refused.stderr

    renamed = tmp_path / "renamed.yaml"
    renamed.write_text(yaml.safe_dump(_manifest("someone-else", token, tools)))
    mismatch = _cli([str(renamed)], settings)
    assert mismatch.returncode == 1 and "receipt_mismatch" in mismatch.stderr

    bare = tmp_path / "receipt.txt"
    bare.write_text(token + "\n")
    assert _cli([str(bare)], settings).returncode == 0

    unsigned = tmp_path / "unsigned.yaml"
    manifest = _manifest("paper-finder", token, tools)
    manifest["metadata"]["annotations"] = {}
    unsigned.write_text(yaml.safe_dump(manifest))
    missing = _cli([str(unsigned)], settings)
    assert missing.returncode == 1 and "receipt_missing" in missing.stderr


async def test_receipt_verify_with_a_given_key(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    token = (await _created(client))["receipt"]
    bare = tmp_path / "receipt.txt"
    bare.write_text(token)
    published = tmp_path / "jwks.json"
    published.write_text(await _published_key(client))
    nowhere = settings.model_copy(update={"data_dir": tmp_path / "empty"})
    ok = _cli([str(bare), "--key", str(published), "--json"], nowhere)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["receipts"][0]["agent"] == "acme/paper-finder"

    stranger = tmp_path / "stranger.pem"
    stranger.write_text(public_pem(Ed25519PrivateKey.generate().public_key()))
    wrong = _cli([str(bare), "--key", str(stranger)], nowhere)
    assert wrong.returncode == 1 and "receipt_bad_signature" in wrong.stderr

    # No --key and no local key: nothing to verify with (exit 2), never a new key.
    none = _cli([str(bare)], nowhere)
    assert none.returncode == 2 and "no key" in none.stderr
    assert not (tmp_path / "empty" / KEY_FILE_NAME).exists()


async def test_the_example_admission_policy_accepts_the_shape_of_a_real_receipt(
    client: httpx.AsyncClient,
) -> None:
    """The CEL ``matches`` of deploy/kubernetes is RE2; this regex reads the same in Python."""
    policy = (
        Path(__file__).parents[2]
        / "deploy/kubernetes/require-receipt.validatingadmissionpolicy.yaml"
    )
    vap = next(yaml.safe_load_all(policy.read_text()))
    expression = vap["spec"]["validations"][1]["expression"]
    # The CEL string literal '...\\.' holds the regex '...\.'.
    pattern = expression.split(".matches('")[1].rsplit("')", 1)[0].replace("\\\\", "\\")
    token = (await _created(client))["receipt"]
    assert re.fullmatch(pattern, token)
    assert not re.fullmatch(pattern, token + "x") and not re.fullmatch(pattern, "not-a-receipt")

"""A local OpenAI-compatible chat-completions server, standing in for a remote LLM.

No real LLM can run on our machines. This server speaks the wire format the
`openai` client expects (`POST /v1/chat/completions`), so the reviewer is
exercised with the real client; what the "model" answers is set per test.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from tests.support.narrow import bound_port


class LlmStandIn:
    def __init__(self) -> None:
        #: "ok" (answer with `verdict`), "error" (500), "slow" (never in time),
        #: "malformed" (not JSON), "refusal", "wrong-schema" (JSON, not a verdict).
        self.mode = "ok"
        self.verdict: dict[str, Any] = {
            "score": 0.1,
            "categories": [],
            "rationale": "looks routine",
        }
        self.calls = 0
        self.requests: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None

    def _completion(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{self.calls}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": "standin",
            "choices": [
                {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        }

    async def _chat(self, request: web.Request) -> web.Response:
        self.calls += 1
        self.requests.append(await request.json())
        if self.mode == "error":
            return web.json_response(
                {"error": {"message": "boom", "type": "server_error"}}, status=500
            )
        if self.mode == "slow":
            await asyncio.sleep(1.5)
        if self.mode == "malformed":
            message: dict[str, str | None] = {
                "role": "assistant",
                "content": "I think it is fine, score 0.1",
            }
        elif self.mode == "refusal":
            message = {"role": "assistant", "content": None, "refusal": "I can't help with that."}
        elif self.mode == "wrong-schema":
            message = {
                "role": "assistant",
                "content": json.dumps({"score": 7, "categories": ["nope"]}),
            }
        else:
            message = {"role": "assistant", "content": json.dumps(self.verdict)}
        return web.json_response(self._completion(message))

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = bound_port(site)
        return f"http://127.0.0.1:{port}/v1"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

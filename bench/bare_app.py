"""The baseline: a bare FastAPI endpoint that only validates the same body with pydantic."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gateway.contract.request import AgentKind, parse_request

app = FastAPI()


@app.post("/v1/create_agent")
async def create_agent(request: Request) -> JSONResponse:
    body: Any = await request.json()
    parsed = parse_request(AgentKind.AGENT, body)
    return JSONResponse({"name": parsed.name}, status_code=201)

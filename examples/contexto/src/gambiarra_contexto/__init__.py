"""contexto: a runner plugin for gambiarra-client, to copy and change.

A system prompt and a context prefix in front of a local Ollama model: the
pattern of the community's "context engineering" clients. Installed with
``pip install ./examples/contexto``, it is chosen with ``--runner contexto``
(it registers under the ``gambiarra.runners`` entry-point group).

The plugin gets only the round's request, so its own settings come from the
environment:

- ``CONTEXTO_OLLAMA_URL``: the Ollama server (``http://localhost:11434``);
- ``CONTEXTO_SISTEMA``: the system prompt (``SISTEMA`` below); the
  participant's ``--system`` is added after it;
- ``CONTEXTO_ARQUIVO``: a text file put before every challenge (``CONTEXTO``
  below when unset).

The client enforces the round's limits itself (max_tokens, deadline, a new
challenge): this generator is simply closed, which closes the HTTP stream and
tells Ollama to stop. Whatever it raises fails that round, with its message.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from gambiarra import RunnerRequest, TokenChunk

__all__ = ["CONTEXTO", "SISTEMA", "contexto"]

SISTEMA = (
    "Você é um participante bem-humorado do Gambiarra LLM Club. "
    "Responda em português, direto ao ponto."
)
CONTEXTO = (
    "Contexto: a arena mede o tempo até o primeiro token e os tokens por segundo; "
    "respostas curtas e completas ganham o público."
)


def messages(request: RunnerRequest) -> list[dict[str, str]]:
    """The chat the model gets: our system prompt, then the context and the challenge."""
    system = os.environ.get("CONTEXTO_SISTEMA") or SISTEMA
    if request.system:
        system += "\n\n" + request.system
    path = os.environ.get("CONTEXTO_ARQUIVO")
    context = Path(path).read_text(encoding="utf-8").strip() if path else CONTEXTO
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": f"{context}\n\nDesafio: {request.prompt}"},
    ]


def options(request: RunnerRequest) -> dict[str, float | int]:
    """The challenge's own values: temperature 0 is real, and a missing seed stays out."""
    chosen: dict[str, float | int] = {
        "num_predict": request.max_tokens,
        "temperature": request.temperature,
    }
    if request.seed is not None:
        chosen["seed"] = request.seed
    return chosen


async def contexto(request: RunnerRequest) -> AsyncIterator[str | TokenChunk]:
    """Stream Ollama's ``/api/chat`` answer, piece by piece, as it is produced."""
    url = os.environ.get("CONTEXTO_OLLAMA_URL", "http://localhost:11434")
    body = {
        "model": request.model,
        "messages": messages(request),
        "options": options(request),
        "stream": True,
    }
    timeout = httpx.Timeout(60.0, connect=5.0)
    async with (
        httpx.AsyncClient(base_url=url, timeout=timeout, trust_env=False) as http,
        http.stream("POST", "/api/chat", json=body) as response,
    ):
        if response.status_code != 200:
            await response.aread()
            raise RuntimeError(f"o Ollama respondeu {response.status_code}: {response.text[:200]}")
        async for line in response.aiter_lines():
            if not line.strip():
                continue
            part = json.loads(line)
            if "error" in part:
                raise RuntimeError(f"o Ollama avisou: {part['error']}")
            message = part.get("message") or {}
            if message.get("thinking"):
                yield TokenChunk(message["thinking"], reasoning=True)
            if message.get("content"):
                yield message["content"]

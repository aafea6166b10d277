"""OpenAICompatRunner: any OpenAI-compatible server, streamed as SSE.

``completions`` posts to ``/v1/completions`` and reads ``choices[0].text``;
``chat`` posts to ``/v1/chat/completions`` and reads
``choices[0].delta.content`` (and ``reasoning_content`` / ``reasoning``,
which some servers send before the answer). Both end with ``data: [DONE]``.
LM Studio, vLLM, LocalAI, Jan, llamafile and llama.cpp's OpenAI endpoints all
speak this.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, Literal

import httpx
import msgspec
import structlog

from gambiarra.adapters.http_errors import (
    error_text,
    generation_stream,
    preview,
    translate_http_errors,
)
from gambiarra.adapters.lines import iter_sse_data
from gambiarra.domain.events import GenerationRequest
from gambiarra.domain.prompting import chat_messages, with_system
from gambiarra.errors import RunnerFailed, RunnerUnavailable
from gambiarra.ports import ModelDescription, TokenChunk

__all__ = ["OpenAICompatRunner", "list_openai_models"]

log = structlog.get_logger("gambiarra.runner")

_DONE = b"[DONE]"
_SERVERS = {
    "lmstudio": ("o LM Studio", "--lmstudio-url", "abra o LM Studio e ligue o servidor local"),
    "openai": ("o servidor OpenAI-compatível", "--base-url", "inicie o servidor"),
    "llamacpp": ("o llama.cpp", "--llamacpp-url", "inicie o llama-server"),
}


class _Delta(msgspec.Struct):
    content: str | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None


class _Choice(msgspec.Struct):
    text: str | None = None
    delta: _Delta | None = None
    finish_reason: str | None = None


class _Event(msgspec.Struct):
    choices: list[_Choice] = []
    error: Any = None


class _Model(msgspec.Struct):
    id: str
    owned_by: str | None = None


class _Models(msgspec.Struct):
    data: list[_Model] = []


_event_decoder = msgspec.json.Decoder(_Event)
_models_decoder = msgspec.json.Decoder(_Models)


async def list_openai_models(
    http: httpx.AsyncClient, server: str, flag: str, hint: str
) -> list[ModelDescription]:
    """``GET /v1/models`` on any OpenAI-compatible server."""
    where = str(http.base_url).rstrip("/")
    with translate_http_errors(server, where, f"{hint} ou indique o endereço com {flag}"):
        response = await http.get("/v1/models")
    if response.status_code in (401, 403):
        raise RunnerUnavailable(
            f"{server} recusou a chave (HTTP {response.status_code}): confira --api-key"
        )
    if response.is_error:
        raise RunnerUnavailable(
            f"{server} respondeu {response.status_code} em {where}/v1/models: confira {flag}"
        )
    try:
        listing = _models_decoder.decode(response.content)
    except msgspec.DecodeError:
        raise RunnerUnavailable(
            f"{where} não parece um servidor compatível com OpenAI: confira {flag}"
        ) from None
    return [ModelDescription(m.id) for m in listing.data]


class OpenAICompatRunner:
    """Streams completions or chat completions from an OpenAI-compatible server.

    Args:
        http: the pooled client, with the server's base URL (and the bearer
            token, when there is one).
        model: the model id as the server lists it.
        kind: the runner name sent to the arena (``lmstudio`` or ``openai``).
        api: ``completions`` or ``chat``.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        model: str,
        kind: str = "lmstudio",
        api: Literal["completions", "chat"] = "completions",
    ) -> None:
        self._http = http
        self.model = model
        self.kind = kind
        self._api = api
        self._server, self._flag, self._hint = _SERVERS.get(kind, _SERVERS["openai"])
        self._where = str(http.base_url).rstrip("/")

    async def models(self) -> list[ModelDescription]:
        return await list_openai_models(self._http, self._server, self._flag, self._hint)

    async def check(self) -> None:
        installed = [m.name for m in await self.models()]
        if self.model not in installed:
            have = ", ".join(installed) or "nenhum"
            raise RunnerUnavailable(
                f"o modelo {self.model!r} não está disponível ({self._server} oferece: {have}); "
                "carregue-o lá ou escolha um deles com --model"
            )

    def body(self, request: GenerationRequest) -> dict[str, Any]:
        """The JSON body for this request."""
        body: dict[str, Any] = {"model": self.model}
        if self._api == "chat":
            body["messages"] = chat_messages(request.system, request.prompt)
        else:
            body["prompt"] = with_system(request.system, request.prompt)
        body.update(max_tokens=request.max_tokens, temperature=request.temperature)
        if request.seed is not None:
            body["seed"] = request.seed
        body["stream"] = True
        return body

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[TokenChunk, None]:
        body = self.body(request)
        path = "/v1/chat/completions" if self._api == "chat" else "/v1/completions"
        log.debug("model_request", url=self._where + path, body=body)
        hint = f"{self._hint} ou indique o endereço com {self._flag}"
        async with generation_stream(self._http, path, body, self._server, hint) as response:
            async for data in iter_sse_data(response.aiter_bytes()):
                if data == _DONE:
                    return
                for chunk in self._chunks(data):
                    yield chunk
        raise RunnerFailed(
            f"{self._server} encerrou a resposta sem o [DONE] final: "
            "confira o terminal do servidor e tente de novo"
        )

    def _chunks(self, data: bytes) -> list[TokenChunk]:
        try:
            event = _event_decoder.decode(data)
        except msgspec.DecodeError:
            raise RunnerFailed(
                f"{self._server} mandou um evento que não é JSON ({preview(data, 80)!r}): "
                f"confira se {self._flag} aponta para o servidor certo"
            ) from None
        if event.error is not None:
            raise RunnerFailed(
                f"{self._server} avisou um erro no meio da resposta: {error_text(data)}"
            )
        chunks: list[TokenChunk] = []
        for choice in event.choices[:1]:
            delta = choice.delta
            if delta is not None:
                thinking = delta.reasoning_content or delta.reasoning
                if thinking:
                    chunks.append(TokenChunk(thinking, reasoning=True))
                if delta.content:
                    chunks.append(TokenChunk(delta.content))
            elif choice.text:
                chunks.append(TokenChunk(choice.text))
        return chunks

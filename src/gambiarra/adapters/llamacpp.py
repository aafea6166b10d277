"""LlamaCppRunner: llama.cpp's native server, ``POST /completion`` as SSE.

Each ``data:`` event carries ``content`` and ``stop``; the event with
``stop: true`` ends the answer (its ``content`` is usually empty). The server
serves one model, so ``--model`` is the name shown to the arena; ``GET
/health`` says whether it is up and done loading.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

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
from gambiarra.adapters.openai_compat import list_openai_models
from gambiarra.domain.events import GenerationRequest
from gambiarra.domain.prompting import with_system
from gambiarra.errors import RunnerFailed, RunnerUnavailable
from gambiarra.ports import ModelDescription, TokenChunk

__all__ = ["LlamaCppRunner"]

log = structlog.get_logger("gambiarra.runner")

_SERVER = "o llama.cpp"
_HINT = "inicie o llama-server ou indique o endereço com --llamacpp-url"


class _Event(msgspec.Struct):
    content: str = ""
    stop: bool = False
    error: Any = None


_event_decoder = msgspec.json.Decoder(_Event)


class LlamaCppRunner:
    kind = "llamacpp"

    def __init__(self, http: httpx.AsyncClient, model: str) -> None:
        self._http = http
        self.model = model
        self._where = str(http.base_url).rstrip("/")

    async def check(self) -> None:
        with translate_http_errors(_SERVER, self._where, _HINT):
            response = await self._http.get("/health")
        if response.status_code == 503:
            raise RunnerUnavailable(
                f"{_SERVER} em {self._where} ainda está carregando o modelo: espere e tente de novo"
            )
        if response.is_error:
            raise RunnerUnavailable(
                f"{_SERVER} respondeu {response.status_code} em {self._where}/health: "
                f"{error_text(response.content)}"
            )

    async def models(self) -> list[ModelDescription]:
        try:
            return await list_openai_models(self._http, _SERVER, "--llamacpp-url", _HINT)
        except RunnerUnavailable:
            await self.check()  # older servers have no /v1/models: up means one model
            return [ModelDescription(self.model)]

    def body(self, request: GenerationRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "prompt": with_system(request.system, request.prompt),
            "n_predict": request.max_tokens,
            "temperature": request.temperature,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        body["stream"] = True
        return body

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[TokenChunk, None]:
        body = self.body(request)
        log.debug("model_request", url=self._where + "/completion", body=body)
        async with generation_stream(self._http, "/completion", body, _SERVER, _HINT) as response:
            async for data in iter_sse_data(response.aiter_bytes()):
                event = self._decode(data)
                if event.content:
                    yield TokenChunk(event.content)
                if event.stop:
                    return
        raise RunnerFailed(
            f"{_SERVER} encerrou a resposta antes do fim (sem stop): "
            "confira o terminal do llama-server e tente de novo"
        )

    def _decode(self, data: bytes) -> _Event:
        try:
            event = _event_decoder.decode(data)
        except msgspec.DecodeError:
            raise RunnerFailed(
                f"{_SERVER} mandou um evento que não é JSON ({preview(data, 80)!r}): "
                "confira se --llamacpp-url aponta para o llama-server"
            ) from None
        if event.error is not None:
            raise RunnerFailed(f"{_SERVER} avisou um erro no meio da resposta: {error_text(data)}")
        return event

"""OpenAICompatRunner: OpenAI-compatible ``POST /v1/completions`` as SSE.

LM Studio (and vLLM, LocalAI, llama.cpp's OpenAI endpoints) stream
``data: {json}`` events whose ``choices[0].text`` is the next piece, and end
with ``data: [DONE]``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import httpx
import msgspec

from gambiarra.adapters.http_errors import error_text, translate_http_errors
from gambiarra.adapters.lines import iter_sse_data
from gambiarra.domain.events import GenerationRequest
from gambiarra.errors import RunnerFailed, RunnerUnavailable
from gambiarra.ports import ModelDescription, TokenChunk

__all__ = ["OpenAICompatRunner"]

_JSON = {"content-type": "application/json"}
_DONE = b"[DONE]"


class _Choice(msgspec.Struct):
    text: str | None = None
    finish_reason: str | None = None


class _Event(msgspec.Struct):
    choices: list[_Choice] = []
    error: Any = None


class _Model(msgspec.Struct):
    id: str


class _Models(msgspec.Struct):
    data: list[_Model] = []


_event_decoder = msgspec.json.Decoder(_Event)
_models_decoder = msgspec.json.Decoder(_Models)
_encoder = msgspec.json.Encoder()


class OpenAICompatRunner:
    """Streams completions from any OpenAI-compatible server."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        model: str,
        kind: str = "lmstudio",
        idle_timeout: float | None = 60.0,
    ) -> None:
        self._http = http
        self.model = model
        self._idle_timeout = idle_timeout
        self.kind = kind
        self._server = "LM Studio" if kind == "lmstudio" else "the model server"
        self._where = str(http.base_url).rstrip("/")
        self._hint = (
            "abra o LM Studio e ligue o servidor local, ou indique o endereço com --lmstudio-url"
        )

    async def models(self) -> list[ModelDescription]:
        with translate_http_errors(self._server, self._where, self._hint):
            response = await self._http.get("/v1/models")
        if response.is_error:
            raise RunnerUnavailable(
                f"{self._server} respondeu {response.status_code} em {self._where}/v1/models: "
                "confira --lmstudio-url"
            )
        try:
            listing = _models_decoder.decode(response.content)
        except msgspec.DecodeError:
            raise RunnerUnavailable(
                f"{self._where} não parece um servidor compatível com OpenAI: "
                "confira --lmstudio-url"
            ) from None
        return [ModelDescription(m.id) for m in listing.data]

    async def check(self) -> None:
        installed = [m.name for m in await self.models()]
        if self.model not in installed:
            have = ", ".join(installed) or "nenhum"
            raise RunnerUnavailable(
                f"o modelo {self.model!r} não está disponível no {self._server} "
                f"(disponíveis: {have}); carregue-o lá ou escolha um deles com --model"
            )

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[TokenChunk, None]:
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": request.prompt,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": True,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        with translate_http_errors(self._server, self._where, self._hint):
            async with self._http.stream(
                "POST", "/v1/completions", content=_encoder.encode(body), headers=_JSON
            ) as response:
                if response.is_error:
                    detail = error_text(await response.aread())
                    raise RunnerFailed(f"{self._server} answered {response.status_code}: {detail}")
                async for data in iter_sse_data(response.aiter_bytes(), self._idle_timeout):
                    if data == _DONE:
                        return
                    event = self._decode(data)
                    for choice in event.choices[:1]:
                        if choice.text:
                            yield TokenChunk(choice.text)
        raise RunnerFailed(f"{self._server} ended the stream without [DONE]")

    def _decode(self, data: bytes) -> _Event:
        try:
            event = _event_decoder.decode(data)
        except msgspec.DecodeError:
            raise RunnerFailed(f"{self._server} sent a malformed event: {data[:80]!r}") from None
        if event.error is not None:
            raise RunnerFailed(f"{self._server}: {error_text(data)}")
        return event

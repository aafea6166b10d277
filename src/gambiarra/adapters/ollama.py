"""OllamaRunner: ``POST /api/generate`` (default) or ``POST /api/chat``, as NDJSON.

One JSON object per line: answer pieces (``response``, or ``message.content``
for chat), reasoning pieces (``thinking``) on reasoning models, then a
``done`` line that is not a token. An ``{"error": ...}`` line (HTTP status
stays 200) or an HTTP error status is a runner failure carrying Ollama's own
message.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, Literal

import httpx
import msgspec
import structlog

from gambiarra.adapters.http_errors import generation_stream, preview, translate_http_errors
from gambiarra.adapters.lines import iter_lines
from gambiarra.domain.events import GenerationRequest
from gambiarra.domain.prompting import chat_messages
from gambiarra.errors import RunnerFailed, RunnerUnavailable
from gambiarra.ports import ModelDescription, TokenChunk

__all__ = ["OllamaRunner", "same_model"]

log = structlog.get_logger("gambiarra.runner")


class _Message(msgspec.Struct):
    content: str = ""
    thinking: str = ""


class _Line(msgspec.Struct):
    response: str = ""
    thinking: str = ""
    message: _Message | None = None
    done: bool = False
    error: str | None = None


class _Details(msgspec.Struct):
    family: str | None = None


class _Model(msgspec.Struct):
    name: str
    size: int | None = None
    details: _Details | None = None


class _Tags(msgspec.Struct):
    models: list[_Model] = []


_line_decoder = msgspec.json.Decoder(_Line)
_tags_decoder = msgspec.json.Decoder(_Tags)


def same_model(wanted: str, installed: str) -> bool:
    """Ollama treats ``llama3.1`` as ``llama3.1:latest``."""
    if ":" not in wanted:
        wanted += ":latest"
    if ":" not in installed:
        installed += ":latest"
    return wanted == installed


class OllamaRunner:
    """Streams a model served by Ollama, through one pooled HTTP client.

    Args:
        http: the pooled client, with Ollama's base URL.
        model: the model name as Ollama knows it.
        api: ``generate`` (``/api/generate``) or ``chat`` (``/api/chat``).
        think: the ``think`` request field for reasoning models; None leaves
            it out (Ollama's own default).
    """

    kind = "ollama"

    def __init__(
        self,
        http: httpx.AsyncClient,
        model: str,
        api: Literal["generate", "chat"] = "generate",
        think: bool | None = None,
    ) -> None:
        self._http = http
        self.model = model
        self._api = api
        self._think = think
        self._where = str(http.base_url).rstrip("/")
        self._hint = "inicie o Ollama (ollama serve) ou indique o endereço com --ollama-url"

    async def models(self) -> list[ModelDescription]:
        with translate_http_errors("Ollama", self._where, self._hint):
            response = await self._http.get("/api/tags")
        if response.is_error:
            raise RunnerUnavailable(
                f"o Ollama respondeu {response.status_code} em {self._where}/api/tags: "
                "confira --ollama-url"
            )
        try:
            tags = _tags_decoder.decode(response.content)
        except msgspec.DecodeError:
            raise RunnerUnavailable(
                f"{self._where} não parece ser um Ollama: confira --ollama-url"
            ) from None
        return [
            ModelDescription(m.name, m.size, m.details.family if m.details else None)
            for m in tags.models
        ]

    async def check(self) -> None:
        installed = [m.name for m in await self.models()]
        if not any(same_model(self.model, name) for name in installed):
            have = ", ".join(installed) or "nenhum"
            raise RunnerUnavailable(
                f"o modelo {self.model!r} não está instalado no Ollama (instalados: {have}); "
                f"rode: ollama pull {self.model}"
            )

    def body(self, request: GenerationRequest) -> dict[str, Any]:
        """The JSON body for this request (public so tests and --log-level debug show it)."""
        options: dict[str, Any] = {
            "num_predict": request.max_tokens,
            "temperature": request.temperature,
        }
        if request.seed is not None:
            options["seed"] = request.seed
        body: dict[str, Any] = {"model": self.model}
        if self._api == "chat":
            body["messages"] = chat_messages(request.system, request.prompt)
        else:
            body["prompt"] = request.prompt
            if request.system:
                body["system"] = request.system
        body["stream"] = True
        body["options"] = options
        if self._think is not None:
            body["think"] = self._think
        return body

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[TokenChunk, None]:
        body = self.body(request)
        path = f"/api/{self._api}"
        log.debug("model_request", url=self._where + path, body=body)
        async with generation_stream(self._http, path, body, "o Ollama", self._hint) as response:
            async for raw in iter_lines(response.aiter_bytes()):
                line = _decode(raw)
                if line.error is not None:
                    detail = preview(line.error) or "sem detalhes"
                    raise RunnerFailed(f"o Ollama avisou um erro no meio da resposta: {detail}")
                source = line.message if line.message is not None else line
                if source.thinking:
                    yield TokenChunk(source.thinking, reasoning=True)
                text = source.content if isinstance(source, _Message) else source.response
                if text:
                    yield TokenChunk(text)
                if line.done:
                    return
        raise RunnerFailed(
            "o Ollama encerrou a resposta antes do fim: "
            "confira o terminal do Ollama e tente de novo"
        )


def _decode(raw: bytes) -> _Line:
    try:
        return _line_decoder.decode(raw)
    except msgspec.DecodeError:
        raise RunnerFailed(
            f"o Ollama mandou uma linha que não é JSON ({preview(raw, 80)!r}): "
            "confira se --ollama-url aponta para o Ollama"
        ) from None

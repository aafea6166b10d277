"""LlamaCppRunner: llama.cpp's native server, ``POST /completion`` as SSE.

Each ``data:`` event carries ``content`` and ``stop``; the event with
``stop: true`` ends the answer (its ``content`` is usually empty) and carries
the server's ``timings`` (prompt and generation, in ms). The server serves one
model, so ``--model`` is the name shown to the arena; ``GET /health`` says
whether it is up and done loading.

The server keeps its model loaded: warming only wakes one that reports
``is_sleeping`` in ``GET /props``, whose ``model_path`` also names the
quantization (only the file name is read: the folder may name the user).
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any

import httpx
import msgspec
import structlog

from gambiarra.adapters.http_errors import (
    body_chunks,
    error_text,
    generation_stream,
    preview,
    server_address,
    translate_http_errors,
)
from gambiarra.adapters.lines import ModelBody
from gambiarra.adapters.openai_compat import list_openai_models
from gambiarra.adapters.warmup import LOAD_TIMEOUT
from gambiarra.domain.events import GenerationRequest
from gambiarra.domain.metrics import ModelFigures
from gambiarra.domain.model_names import pasted_model_hint
from gambiarra.domain.prompting import with_system
from gambiarra.errors import RunnerError, RunnerFailed, RunnerUnavailable
from gambiarra.ports import HandBack, ModelDescription, ModelFacts, TokenChunk, Warmed

__all__ = ["LlamaCppRunner"]

log = structlog.get_logger("gambiarra.runner")

_SERVER = "o llama.cpp"
_HINT = "inicie o llama-server ou indique o endereço com --llamacpp-url"


class _Timings(msgspec.Struct):
    prompt_n: float | None = None
    prompt_ms: float | None = None
    predicted_n: float | None = None
    predicted_ms: float | None = None


class _Event(msgspec.Struct):
    content: str = ""
    stop: bool = False
    error: Any = None
    timings: _Timings | None = None


class _Props(msgspec.Struct):
    model_path: str = ""
    is_sleeping: bool = False


_event_decoder = msgspec.json.Decoder(_Event)
_props_decoder = msgspec.json.Decoder(_Props)
# In a GGUF file name: "Qwen3-4B-Q4_K_M.gguf" -> Q4_K_M and 4B.
_QUANT = re.compile(r"(?<![A-Za-z0-9])(I?Q\d(?:_[A-Z0-9]+)*|BF16|F16|F32)(?![A-Za-z0-9])", re.I)
_PARAMS = re.compile(r"(?<![A-Za-z0-9.])(\d+(?:\.\d+)?[BM])(?![A-Za-z0-9])", re.I)


class LlamaCppRunner:
    kind = "llamacpp"

    def __init__(
        self,
        http: httpx.AsyncClient,
        model: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self.model = model
        self._where = server_address(http)
        self._clock = clock

    async def check(self) -> None:
        hint = pasted_model_hint(self.model)
        if hint is not None:
            raise RunnerUnavailable(hint)
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
        # The client stops at max_tokens itself (the round machine does too):
        # the rest of the body is then read, so the connection is kept.
        left = request.max_tokens if request.max_tokens >= 0 else -1
        async with generation_stream(self._http, "/completion", body, _SERVER, _HINT) as response:
            answer = ModelBody(body_chunks(response), sse=True)
            async for events in answer:
                for data in events:
                    event = self._decode(data)
                    if event.content:
                        yield TokenChunk(event.content)
                        left -= 1
                        if left == 0:
                            await answer.finish(self._ends)
                            return
                    if event.stop:
                        if event.timings is not None:
                            yield TokenChunk("", figures=_figures(event.timings))
                        await answer.finish()
                        return
        raise RunnerFailed(
            f"{_SERVER} encerrou a resposta antes do fim (sem stop): "
            "confira o terminal do llama-server e tente de novo"
        )

    # ------------------------------------------------------------ the model host

    async def warm(self) -> Warmed:
        """The server keeps its model; one that sleeps is woken with one token."""
        props = await self._props()
        started = self._clock()
        if props is not None and props.is_sleeping:
            tiny = GenerationRequest(round=0, prompt="ok", max_tokens=1, temperature=0.0)
            body = self.body(tiny) | {"stream": False}
            timeout = httpx.Timeout(LOAD_TIMEOUT, connect=5.0)
            with translate_http_errors(_SERVER, self._where, _HINT):
                response = await self._http.post("/completion", json=body, timeout=timeout)
            if response.is_error:
                raise RunnerFailed(
                    f"{_SERVER} não conseguiu acordar o modelo ({response.status_code}: "
                    f"{error_text(response.content)}): confira o terminal do llama-server"
                )
            return Warmed(self._clock() - started, was_loaded=False)
        return Warmed(0.0, was_loaded=True if props is not None else None)

    async def keep(self) -> None:
        """Nothing to do: llama-server keeps its one model."""

    async def release(self) -> HandBack:
        return HandBack.UNTOUCHED

    async def describe(self) -> ModelFacts:
        props = await self._props()
        if props is None:
            return ModelFacts()
        # Only the file name: the folders above it may carry the user's name.
        name = re.split(r"[/\\]", props.model_path)[-1]
        quant, params = _QUANT.search(name), _PARAMS.search(name)
        return ModelFacts(
            parameter_size=params.group(1).upper() if params else None,
            quantization=quant.group(1).upper() if quant else None,
        )

    async def _props(self) -> _Props | None:
        try:
            with translate_http_errors(_SERVER, self._where, _HINT):
                response = await self._http.get("/props")
        except RunnerError:
            return None
        if response.status_code != 200:
            return None  # older servers have no /props
        try:
            return _props_decoder.decode(response.content)
        except msgspec.DecodeError:
            return None

    def _ends(self, data: bytes) -> bool | None:
        """After max_tokens: the stop event ends the answer, more text means it goes on."""
        event = self._decode(data)
        return False if event.content else (True if event.stop else None)

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


def _figures(timings: _Timings) -> ModelFigures:
    def whole(value: float | None) -> int | None:
        return None if value is None else max(0, round(value))

    return ModelFigures(
        prompt_ms=whole(timings.prompt_ms),
        prompt_tokens=whole(timings.prompt_n),
        generation_ms=whole(timings.predicted_ms),
        generated_tokens=whole(timings.predicted_n),
    )

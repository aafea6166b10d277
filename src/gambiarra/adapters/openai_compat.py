"""OpenAICompatRunner: any OpenAI-compatible server, streamed as SSE.

``completions`` posts to ``/v1/completions`` and reads ``choices[0].text``;
``chat`` posts to ``/v1/chat/completions`` and reads
``choices[0].delta.content`` (and ``reasoning_content`` / ``reasoning``,
which some servers send before the answer). Both end with ``data: [DONE]``.
LM Studio, vLLM, LocalAI, Jan, llamafile and llama.cpp's OpenAI endpoints all
speak this.

Loading and keeping: the smallest real request (one token) loads the model
(LM Studio loads just in time); these servers have no keep-alive field, so a
``Refresher`` repeats that request while the client idles. LM Studio's own
``/api/v0/models`` says whether a model is loaded, its type (an ``embeddings``
model cannot play) and its quantization.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Literal

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
from gambiarra.adapters.warmup import LOAD_TIMEOUT, REFRESH_EVERY, Refresher
from gambiarra.domain.events import GenerationRequest
from gambiarra.domain.model_names import pasted_model_hint
from gambiarra.domain.prompting import chat_messages, with_system
from gambiarra.errors import RunnerError, RunnerFailed, RunnerUnavailable
from gambiarra.ports import HandBack, ModelDescription, ModelFacts, TokenChunk, Warmed

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


class _LmModel(msgspec.Struct):
    """One entry of LM Studio's ``GET /api/v0/models``."""

    id: str
    type: str = ""  # llm, vlm, embeddings
    arch: str | None = None
    quantization: str | None = None
    state: str = ""  # loaded, not-loaded


class _LmModels(msgspec.Struct):
    data: list[_LmModel] = []


_event_decoder = msgspec.json.Decoder(_Event)
_models_decoder = msgspec.json.Decoder(_Models)
_lm_models_decoder = msgspec.json.Decoder(_LmModels)
# What the one-token load request asks (and what a refresh repeats).
_TINY_PROMPT = "ok"


async def list_openai_models(
    http: httpx.AsyncClient, server: str, flag: str, hint: str
) -> list[ModelDescription]:
    """``GET /v1/models`` on any OpenAI-compatible server."""
    where = server_address(http)
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
        keep_alive: seconds after the last round to keep the model loaded
            with refreshes; negative: for as long as the client runs; None:
            no refreshes (warming off).
        refresh_every: seconds of silence before a refresh.
        clock: monotonic seconds, to time the load.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        model: str,
        kind: str = "lmstudio",
        api: Literal["completions", "chat"] = "completions",
        keep_alive: float | None = None,
        refresh_every: float = REFRESH_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self.model = model
        self.kind = kind
        self._api = api
        self._server, self._flag, self._hint = _SERVERS.get(kind, _SERVERS["openai"])
        self._where = server_address(http)
        self._clock = clock
        self._refresher = (
            None
            if keep_alive is None
            else Refresher(
                self._tiny_request,
                every=refresh_every,
                keep_for=None if keep_alive < 0 else keep_alive,
                clock=clock,
            )
        )
        self._loaded_by_us = False

    async def models(self) -> list[ModelDescription]:
        return await list_openai_models(self._http, self._server, self._flag, self._hint)

    async def check(self) -> None:
        """The model is offered, and (LM Studio) is not an embedding model.

        Raises:
            RunnerUnavailable: server down, a command or path given as the
                model, the model not offered, or one that cannot generate text.
        """
        hint = pasted_model_hint(self.model)
        if hint is not None:
            raise RunnerUnavailable(hint)
        installed = [m.name for m in await self.models()]
        if self.model not in installed:
            have = ", ".join(installed) or "nenhum"
            raise RunnerUnavailable(
                f"o modelo {self.model!r} não está disponível ({self._server} oferece: {have}); "
                "carregue-o lá ou escolha um deles com --model"
            )
        listing = await self._lm_models()
        mine = _find(listing, self.model)
        if mine is not None and mine.type == "embeddings":
            chat = [m.id for m in listing or () if m.type in ("llm", "vlm")]
            choice = (
                f"escolha um destes com --model: {', '.join(chat)}"
                if chat
                else "baixe um modelo de conversa no LM Studio e use-o em --model"
            )
            raise RunnerUnavailable(
                f"o modelo {self.model!r} não gera texto (é um modelo de embedding): {choice}"
            )

    async def _lm_models(self) -> list[_LmModel] | None:
        """LM Studio's own listing; None for other servers (or when it does not answer)."""
        if self.kind != "lmstudio":
            return None
        try:
            with translate_http_errors(self._server, self._where, self._hint):
                response = await self._http.get("/api/v0/models")
        except RunnerError:
            return None
        if response.status_code != 200:
            return None  # older LM Studio: no /api/v0
        try:
            return _lm_models_decoder.decode(response.content).data
        except msgspec.DecodeError:
            return None

    # ------------------------------------------------------------ the model host

    async def warm(self) -> Warmed:
        """One real token: it loads the model (just in time) and proves it answers."""
        mine = _find(await self._lm_models(), self.model)
        was_loaded = None if mine is None else mine.state == "loaded"
        started = self._clock()
        await self._tiny_request()
        self._loaded_by_us = was_loaded is False
        return Warmed(self._clock() - started, was_loaded)

    async def keep(self) -> None:
        """Refresh while idle (never during a round), as long as the keep-alive says."""
        if self._refresher is not None:
            await self._refresher.run()

    async def release(self) -> HandBack:
        """Nothing to undo: once refreshes stop, the server's own idle policy applies."""
        if self._refresher is None or not self._loaded_by_us:
            return HandBack.UNTOUCHED
        return HandBack.SERVER_DEFAULT

    async def describe(self) -> ModelFacts:
        mine = _find(await self._lm_models(), self.model)
        if mine is None:
            return ModelFacts()
        return ModelFacts(family=mine.arch, quantization=mine.quantization)

    async def _tiny_request(self) -> None:
        tiny = GenerationRequest(round=0, prompt=_TINY_PROMPT, max_tokens=1, temperature=0.0)
        body = self.body(tiny) | {"stream": False}
        path = "/v1/chat/completions" if self._api == "chat" else "/v1/completions"
        hint = f"{self._hint} ou indique o endereço com {self._flag}"
        timeout = httpx.Timeout(LOAD_TIMEOUT, connect=5.0)
        with translate_http_errors(self._server, self._where, hint):
            try:
                response = await self._http.post(path, json=body, timeout=timeout)
            except httpx.ReadTimeout:
                raise RunnerFailed(
                    f"{self._server} não carregou o modelo {self.model!r} em "
                    f"{LOAD_TIMEOUT:.0f} s: confira o servidor ou use um modelo menor"
                ) from None
        if response.is_error:
            raise RunnerFailed(
                f"{self._server} não conseguiu carregar o modelo {self.model!r} "
                f"({response.status_code}: {error_text(response.content)}): "
                "confira a memória livre ou use um modelo menor"
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
        # The client stops at max_tokens itself (the round machine does too):
        # the rest of the body is then read, so the connection is kept.
        left = request.max_tokens if request.max_tokens >= 0 else -1
        with self._generating():
            async with generation_stream(self._http, path, body, self._server, hint) as response:
                answer = ModelBody(body_chunks(response), sse=True)
                async for events in answer:
                    for data in events:
                        if data == _DONE:
                            await answer.finish()
                            return
                        for chunk in self._chunks(data):
                            yield chunk
                            if not chunk.reasoning:
                                left -= 1
                                if left == 0:
                                    await answer.finish(self._ends)
                                    return
        raise RunnerFailed(
            f"{self._server} encerrou a resposta sem o [DONE] final: "
            "confira o terminal do servidor e tente de novo"
        )

    def _generating(self) -> AbstractContextManager[None]:
        return nullcontext() if self._refresher is None else self._refresher.generating()

    def _ends(self, data: bytes) -> bool | None:
        """After max_tokens: [DONE] ends the answer, more text means it goes on."""
        return True if data == _DONE else (False if self._chunks(data) else None)

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


def _find(listing: list[_LmModel] | None, model: str) -> _LmModel | None:
    return next((m for m in listing or () if m.id == model), None)

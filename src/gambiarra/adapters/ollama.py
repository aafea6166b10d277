"""OllamaRunner: ``POST /api/generate`` (default) or ``POST /api/chat``, as NDJSON.

One JSON object per line: answer pieces (``response``, or ``message.content``
for chat), reasoning pieces (``thinking``) on reasoning models, then a
``done`` line that is not a token but carries Ollama's own figures (load and
prompt time, in ns). An ``{"error": ...}`` line (HTTP status stays 200) or an
HTTP error status is a runner failure carrying Ollama's own message.

Loading and keeping (see ``adapters/warmup.py``): an empty prompt only loads
the model and answers at once (``done_reason: "load"``); ``keep_alive`` sets
how long it then stays resident (negative: for ever, 0: unload now). Every
request that omits ``keep_alive`` resets the expiry to the server's default,
so with a keep-alive set it goes on every generation request.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import AsyncGenerator, Callable
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
from gambiarra.adapters.warmup import LOAD_TIMEOUT
from gambiarra.domain.events import GenerationRequest
from gambiarra.domain.metrics import ModelFigures, ns_to_ms
from gambiarra.domain.model_names import pasted_model_hint
from gambiarra.domain.prompting import chat_messages
from gambiarra.errors import RunnerError, RunnerFailed, RunnerUnavailable
from gambiarra.ports import HandBack, ModelDescription, ModelFacts, TokenChunk, Warmed

__all__ = ["OllamaRunner", "same_model"]

log = structlog.get_logger("gambiarra.runner")

# Capability checks ask /api/show about each installed model: a few at most.
MAX_MODELS_SHOWN = 12


class _Message(msgspec.Struct):
    content: str = ""
    thinking: str = ""


class _Line(msgspec.Struct):
    response: str = ""
    thinking: str = ""
    message: _Message | None = None
    done: bool = False
    error: str | None = None
    # Only on the done line; durations in ns.
    load_duration: float | None = None
    prompt_eval_duration: float | None = None
    prompt_eval_count: float | None = None
    eval_duration: float | None = None
    eval_count: float | None = None


class _Details(msgspec.Struct):
    family: str | None = None
    parameter_size: str | None = None
    quantization_level: str | None = None


class _Model(msgspec.Struct):
    name: str
    size: int | None = None
    details: _Details | None = None


class _Tags(msgspec.Struct):
    models: list[_Model] = []


class _Show(msgspec.Struct):
    details: _Details | None = None
    # Older servers do not say (None): the check is then skipped.
    capabilities: list[str] | None = None


class _Loaded(msgspec.Struct):
    name: str
    model: str = ""
    size: int = 0
    size_vram: int = 0
    expires_at: str = ""


class _Ps(msgspec.Struct):
    models: list[_Loaded] = []


_line_decoder = msgspec.json.Decoder(_Line)
_tags_decoder = msgspec.json.Decoder(_Tags)
_show_decoder = msgspec.json.Decoder(_Show)
_ps_decoder = msgspec.json.Decoder(_Ps)


def same_model(wanted: str, installed: str) -> bool:
    """Ollama treats ``llama3.1`` as ``llama3.1:latest``."""
    if ":" not in wanted:
        wanted += ":latest"
    if ":" not in installed:
        installed += ":latest"
    return wanted == installed


def _pinned(expires_at: str, now_year: int) -> bool:
    """``keep_alive: -1`` shows as an expiry about 292 years ahead."""
    try:
        return int(expires_at[:4]) > now_year + 100
    except ValueError:
        return False


def _share(loaded: _Loaded | None) -> float | None:
    """The fraction of the loaded model that sits in GPU memory."""
    if loaded is None or loaded.size <= 0:
        return None
    return min(1.0, loaded.size_vram / loaded.size)


def _whole(value: float | None) -> int | None:
    return None if value is None else round(value)


class OllamaRunner:
    """Streams a model served by Ollama, through one pooled HTTP client.

    Args:
        http: the pooled client, with Ollama's base URL.
        model: the model name as Ollama knows it.
        api: ``generate`` (``/api/generate``) or ``chat`` (``/api/chat``).
        think: the ``think`` request field for reasoning models; None leaves
            it out (Ollama's own default).
        think_default: ``think`` for a model that can think when the user
            said nothing (world mode: False, or the decision budget goes to
            thinking); None leaves Ollama's default.
        keep_alive: seconds the model stays loaded after each request, sent
            on every request; negative: for as long as the client runs (the
            model is handed back at exit); None: the server's own default
            (warming off).
        clock: monotonic seconds, to time the load.
    """

    kind = "ollama"

    def __init__(
        self,
        http: httpx.AsyncClient,
        model: str,
        api: Literal["generate", "chat"] = "generate",
        think: bool | None = None,
        think_default: bool | None = None,
        keep_alive: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self.model = model
        self._api = api
        self._think = think
        self._think_default = think_default
        self._keep_alive = keep_alive
        self._clock = clock
        self._where = server_address(http)
        self._hint = "inicie o Ollama (ollama serve) ou indique o endereço com --ollama-url"
        self._show: _Show | None = None
        self._before: _Loaded | None = None  # the model as it was before warming
        self._warmed = False
        self._gpu_share: float | None = None

    async def models(self) -> list[ModelDescription]:
        with translate_http_errors("o Ollama", self._where, self._hint):
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
        """The model is installed and generates text.

        Raises:
            RunnerUnavailable: server down, a command or path given as the
                model, the model not installed, or a model that cannot
                generate text (an embedding model); the message says what to do.
        """
        hint = pasted_model_hint(self.model)
        if hint is not None:
            raise RunnerUnavailable(hint)
        installed = [m.name for m in await self.models()]
        if not any(same_model(self.model, name) for name in installed):
            have = ", ".join(installed) or "nenhum"
            raise RunnerUnavailable(
                f"o modelo {self.model!r} não está instalado no Ollama (instalados: {have}); "
                f"rode: ollama pull {self.model}"
            )
        self._show = await self._ask_show(self.model)
        capabilities = self._capabilities()
        if capabilities and "completion" not in capabilities:
            raise RunnerUnavailable(await self._cannot_generate(capabilities, installed))
        if "thinking" in capabilities and self._think is None:
            self._think = self._think_default

    def _capabilities(self) -> tuple[str, ...]:
        found = self._show.capabilities if self._show is not None else None
        return tuple(found or ())

    async def _cannot_generate(self, capabilities: tuple[str, ...], installed: list[str]) -> str:
        kind = "de embedding" if "embedding" in capabilities else "que não conversa"
        chat = []
        for name in installed[:MAX_MODELS_SHOWN]:
            show = await self._ask_show(name)
            if show is not None and (not show.capabilities or "completion" in show.capabilities):
                chat.append(name)
        choice = (
            f"escolha um destes com --model: {', '.join(chat)}"
            if chat
            else "instale um modelo de conversa (ollama pull llama3.1:8b) e use-o em --model"
        )
        return f"o modelo {self.model!r} não gera texto (é um modelo {kind}): {choice}"

    async def _ask_show(self, model: str) -> _Show | None:
        """``POST /api/show``; None when this server does not answer it."""
        with translate_http_errors("o Ollama", self._where, self._hint):
            response = await self._http.post("/api/show", json={"model": model})
        if response.status_code != 200:
            return None
        try:
            return _show_decoder.decode(response.content)
        except msgspec.DecodeError:
            return None

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
        if self._keep_alive is not None:
            # Without it, this request would reset the expiry to the server's default.
            body["keep_alive"] = self._keep_alive_value()
        return body

    def _keep_alive_value(self) -> int | float:
        assert self._keep_alive is not None
        if self._keep_alive < 0:
            return -1
        whole = round(self._keep_alive)
        return whole if whole == self._keep_alive else self._keep_alive

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[TokenChunk, None]:
        body = self.body(request)
        path = f"/api/{self._api}"
        log.debug("model_request", url=self._where + path, body=body)
        # The client stops at max_tokens itself (the round machine does too):
        # the rest of the body is then read, so the connection is kept.
        left = request.max_tokens if request.max_tokens >= 0 else -1
        async with generation_stream(self._http, path, body, "o Ollama", self._hint) as response:
            answer = ModelBody(body_chunks(response))
            async for lines in answer:
                for raw in lines:
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
                        left -= 1
                        if left == 0:
                            await answer.finish(_ends)
                            return
                    if line.done:
                        yield TokenChunk("", figures=_figures(line))
                        await answer.finish()
                        return
        raise RunnerFailed(
            "o Ollama encerrou a resposta antes do fim: "
            "confira o terminal do Ollama e tente de novo"
        )

    # ------------------------------------------------------------ the model host

    async def warm(self) -> Warmed:
        """Load with an empty prompt, which answers as soon as the model is resident."""
        self._before = await self._loaded()
        body: dict[str, Any] = {"model": self.model, "prompt": "", "stream": False}
        if self._keep_alive is not None:
            body["keep_alive"] = self._keep_alive_value()
        started = self._clock()
        await self._load_request(body)
        seconds = self._clock() - started
        self._warmed = True
        self._gpu_share = _share(await self._loaded())
        return Warmed(seconds, was_loaded=self._before is not None)

    async def keep(self) -> None:
        """Nothing to do: ``keep_alive`` travels on every generation request."""

    async def release(self) -> HandBack:
        """Undo our "keep it for ever": unload it, or give it the server's expiry back."""
        if not self._warmed or self._keep_alive is None:
            return HandBack.UNTOUCHED
        if self._keep_alive >= 0:
            return HandBack.AS_ASKED
        before = self._before
        if before is not None and _pinned(before.expires_at, datetime.date.today().year):
            return HandBack.KEPT_PINNED
        body: dict[str, Any] = {"model": self.model, "prompt": "", "stream": False}
        if before is None:
            body["keep_alive"] = 0  # it was not loaded: free the memory now
        # Else no keep_alive at all: the expiry goes back to the server's default.
        await self._load_request(body)
        return HandBack.UNLOADED if before is None else HandBack.SERVER_DEFAULT

    async def describe(self) -> ModelFacts:
        try:
            show = self._show if self._show is not None else await self._ask_show(self.model)
            share = self._gpu_share if self._gpu_share is not None else _share(await self._loaded())
        except RunnerError:
            return ModelFacts()
        details = show.details if show is not None and show.details else _Details()
        return ModelFacts(
            family=details.family or None,
            parameter_size=details.parameter_size or None,
            quantization=details.quantization_level or None,
            capabilities=tuple(show.capabilities or ()) if show is not None else (),
            gpu_share=share,
        )

    async def _loaded(self) -> _Loaded | None:
        """Our model in ``GET /api/ps``; None when it is not loaded (or ps says nothing)."""
        with translate_http_errors("o Ollama", self._where, self._hint):
            response = await self._http.get("/api/ps")
        if response.status_code != 200:
            return None
        try:
            ps = _ps_decoder.decode(response.content)
        except msgspec.DecodeError:
            return None
        return next(
            (m for m in ps.models if same_model(self.model, m.model or m.name)),
            None,
        )

    async def _load_request(self, body: dict[str, Any]) -> None:
        log.debug("model_request", url=self._where + "/api/generate", body=body)
        timeout = httpx.Timeout(LOAD_TIMEOUT, connect=5.0)
        with translate_http_errors("o Ollama", self._where, self._hint):
            try:
                response = await self._http.post("/api/generate", json=body, timeout=timeout)
            except httpx.ReadTimeout:
                raise RunnerFailed(
                    f"o Ollama não carregou o modelo {self.model!r} em {LOAD_TIMEOUT:.0f} s: "
                    "confira o terminal do Ollama ou use um modelo menor"
                ) from None
        if response.is_error:
            raise RunnerFailed(
                f"o Ollama não conseguiu carregar o modelo {self.model!r} "
                f"({response.status_code}: {error_text(response.content)}): "
                "confira a memória livre ou use um modelo menor"
            )


def _figures(line: _Line) -> ModelFigures:
    return ModelFigures(
        load_ms=ns_to_ms(_whole(line.load_duration)),
        prompt_ms=ns_to_ms(_whole(line.prompt_eval_duration)),
        prompt_tokens=_whole(line.prompt_eval_count),
        generation_ms=ns_to_ms(_whole(line.eval_duration)),
        generated_tokens=_whole(line.eval_count),
    )


def _ends(raw: bytes) -> bool | None:
    """After max_tokens: the done line ends the answer, more text means it goes on."""
    try:
        line = _line_decoder.decode(raw)
    except msgspec.DecodeError:
        return False
    if line.done:
        return True
    source = line.message if line.message is not None else line
    text = source.content if isinstance(source, _Message) else source.response
    return False if text or source.thinking else None


def _decode(raw: bytes) -> _Line:
    try:
        return _line_decoder.decode(raw)
    except msgspec.DecodeError:
        raise RunnerFailed(
            f"o Ollama mandou uma linha que não é JSON ({preview(raw, 80)!r}): "
            "confira se --ollama-url aponta para o Ollama"
        ) from None

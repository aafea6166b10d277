"""What every HTTP runner shares: opening a streamed generation, and turning
httpx failures into our runner errors at the adapter boundary.

Runner errors are read by the participant and also go to the arena as
``error.message``: Portuguese, one line, bounded, saying what to do.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, NamedTuple

import httpx
import msgspec
import structlog

from gambiarra.errors import RunnerFailed, RunnerUnavailable

__all__ = [
    "Exchange",
    "body_chunks",
    "endpoint",
    "error_text",
    "generation_stream",
    "preview",
    "server_address",
    "translate_http_errors",
]

# A streamed answer is asked for uncompressed: its chunks are then read as they
# arrive (``aiter_raw``), without httpx's decoding layer on every token.
_JSON = httpx.Headers({"content-type": "application/json", "accept-encoding": "identity"})


class _Prepared(NamedTuple):
    """What every generation request to one path of one client shares."""

    url: httpx.URL
    headers: httpx.Headers
    extensions: dict[str, Any]


# Each client's generation requests, prepared once: httpx's ``build_request``
# merges the URL, the headers and the cookie jar on every request, a quarter of
# a round's first-token time on an idle machine. The cache is keyed by the
# client's own settings, so replacing one of them prepares again (a client with
# cookies or query parameters is not cached at all; none of ours changes its
# headers in place).
_Settings = tuple[httpx.URL, httpx.Headers, httpx.Timeout]
_prepared: weakref.WeakKeyDictionary[httpx.AsyncClient, tuple[_Settings, dict[str, _Prepared]]]
_prepared = weakref.WeakKeyDictionary()
_encoder = msgspec.json.Encoder()
log = structlog.get_logger(__name__)

# An error body is read only this far: a hostile server's error page may be endless.
ERROR_BODY_LIMIT = 64 * 1024
# How much of the server's own message is quoted.
DETAIL_CHARS = 300


@asynccontextmanager
async def generation_stream(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], server: str, hint: str
) -> AsyncIterator[httpx.Response]:
    """POST a generation and hand over the streaming response, once it is known good.

    Args:
        server: the server's name for messages, with its article ("o Ollama").

    Raises:
        RunnerFailed: the server answered an error status (with its own
            message), or failed while the caller was reading the stream.
        RunnerUnavailable: nothing answered at the server's address.
    """
    where = server_address(http)
    content = _encoder.encode(body)
    if http.cookies or http.params:  # merged anew each time, as httpx does
        request = http.build_request("POST", path, content=content, headers=_JSON)
    else:
        ready = _prepare(http, path)
        request = httpx.Request(
            "POST", ready.url, headers=ready.headers, content=content, extensions=ready.extensions
        )
    with translate_http_errors(server, where, hint) as exchange:
        response = await http.send(request, stream=True)
        exchange.answered = True
        try:
            if response.is_error:
                detail = error_text(await _head(response))
                raise RunnerFailed(f"{server} respondeu {response.status_code}: {detail}")
            yield response
        finally:
            await response.aclose()


def server_address(http: httpx.AsyncClient) -> str:
    """The model server's address for messages: the base URL without any ``user:password@``."""
    return str(http.base_url.copy_with(userinfo=b"")).rstrip("/")


def endpoint(http: httpx.AsyncClient, path: str) -> httpx.URL:
    """``path`` on the client's base URL, exactly as httpx itself would merge them."""
    return _prepare(http, path).url


def _prepare(http: httpx.AsyncClient, path: str) -> _Prepared:
    """A generation request to ``path`` as ``http.build_request`` would make it, but once."""
    settings = (http.base_url, http.headers, http.timeout)
    known_for, known = _prepared.get(http, (None, {}))
    if known_for is None or any(a is not b for a, b in zip(known_for, settings, strict=True)):
        known = {}  # first use, or one of the client's settings was replaced
        _prepared[http] = (settings, known)
    ready = known.get(path)
    if ready is None:
        model = http.build_request("POST", path, headers=_JSON)
        del model.headers["content-length"]  # each request's body sets its own
        ready = known[path] = _Prepared(model.url, model.headers, dict(model.extensions))
    return ready


def body_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body of a streamed answer as it arrives, decoded only if the server compressed it.

    An uncompressed body is read from the response's own stream, as
    ``aiter_raw`` does but without its re-chunking layer: a model sends one
    small HTTP chunk per token, and that layer cost ~0.4 µs on each. The
    connection is released when the response is closed (the caller's
    ``async with``), as after ``aiter_raw``.
    """
    stream = response.stream
    identity = response.headers.get("content-encoding", "").strip().lower() in ("", "identity")
    if identity and isinstance(stream, httpx.AsyncByteStream) and not response.is_stream_consumed:
        response.is_stream_consumed = True  # as aiter_raw marks it: the body is read once
        return aiter(stream)
    return response.aiter_bytes()


async def _head(response: httpx.Response) -> bytes:
    """The start of a body, at most ``ERROR_BODY_LIMIT`` bytes of it."""
    head = bytearray()
    async for chunk in response.aiter_bytes():
        head += chunk
        if len(head) >= ERROR_BODY_LIMIT:
            break
    return bytes(head[:ERROR_BODY_LIMIT])


class Exchange:
    """How far a request got, for the message if it fails: ``answered`` once
    the response's head has arrived (the caller marks it)."""

    __slots__ = ("answered",)

    def __init__(self) -> None:
        self.answered = False


@contextmanager
def translate_http_errors(server: str, base_url: str, hint: str) -> Iterator[Exchange]:
    """Turn httpx failures into ``RunnerUnavailable`` / ``RunnerFailed``.

    The messages say what happened in the participant's terms, the same
    whichever transport is under httpx; the library's own words go to the
    debug log only (they are English and differ between transports).

    Args:
        server: the server's name for messages, with its article ("o Ollama").
        base_url: where it was expected, so the user knows what to fix.
        hint: what the participant should do when nothing answers there.
    """
    exchange = Exchange()
    try:
        yield exchange
    except httpx.HTTPError as exc:
        log.debug("model_http_failed", server=server, error=type(exc).__name__, detail=str(exc))
        raise _runner_error(exc, server, base_url, hint, exchange.answered) from None


def _runner_error(
    exc: httpx.HTTPError, server: str, base_url: str, hint: str, answered: bool
) -> RunnerFailed | RunnerUnavailable:
    if isinstance(exc, httpx.ConnectError):
        return RunnerUnavailable(f"{server} não responde em {base_url}: {hint}")
    if isinstance(exc, httpx.ReadTimeout):
        # The client's read timeout is --runner-timeout: no byte for that long.
        return RunnerFailed(
            f"{server} ficou tempo demais sem mandar nada: confira se o modelo travou "
            "ou aumente --runner-timeout"
        )
    if isinstance(exc, httpx.ConnectTimeout):
        # Also what an https:// address gives for a server that speaks plain http.
        return RunnerFailed(
            f"{server} não completou a conexão em {base_url}: confira o endereço "
            "(http:// ou https://?) e se o servidor está rodando"
        )
    if isinstance(exc, httpx.TimeoutException):
        return RunnerFailed(f"{server} parou de responder: confira se ele ainda está rodando")
    if answered:
        return RunnerFailed(
            f"o modelo parou no meio da resposta: {server} fechou a conexão; "
            "confira se o servidor caiu"
        )
    return RunnerFailed(
        f"{server} não respondeu como um servidor de modelo em {base_url} (fechou a conexão "
        "ou mandou algo que não é HTTP): confira se o endereço é mesmo o dele"
    )


def error_text(body: bytes) -> str:
    """The server's own message from an error body, however it is shaped.

    Ollama sends ``{"error": "..."}``; OpenAI-compatible servers send
    ``{"error": {"message": "..."}}`` or ``{"error": "..."}``; anything else
    is shown as text. Always one line of at most ``DETAIL_CHARS`` characters.
    """
    try:
        decoded = msgspec.json.decode(body)
    except msgspec.DecodeError:
        decoded = None
    if isinstance(decoded, dict):
        error = decoded.get("error", decoded.get("message"))
        if isinstance(error, dict):
            error = error.get("message")
        if isinstance(error, str) and error.strip():
            return preview(error)
    return preview(body.decode("utf-8", "replace")) or "sem detalhes"


def preview(text: str | bytes, limit: int = DETAIL_CHARS) -> str:
    """``text`` as one line of at most ``limit`` characters, for a message."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    line = " ".join(text[: limit * 4].split())
    return line if len(line) <= limit else line[: limit - 1] + "…"

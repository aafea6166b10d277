"""What every HTTP runner shares: opening a streamed generation, and turning
httpx failures into our runner errors at the adapter boundary.

Runner errors are read by the participant and also go to the arena as
``error.message``: Portuguese, one line, bounded, saying what to do.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import msgspec

from gambiarra.errors import RunnerFailed, RunnerUnavailable

__all__ = [
    "body_chunks",
    "endpoint",
    "error_text",
    "generation_stream",
    "preview",
    "translate_http_errors",
]

# A streamed answer is asked for uncompressed: its chunks are then read as they
# arrive (``aiter_raw``), without httpx's decoding layer on every token.
_JSON = httpx.Headers({"content-type": "application/json", "accept-encoding": "identity"})
# Each client's generation URLs, resolved once: httpx merges a relative path
# with the base URL on every request, a tenth of a round's first-token time.
_endpoints: weakref.WeakKeyDictionary[httpx.AsyncClient, tuple[httpx.URL, dict[str, httpx.URL]]]
_endpoints = weakref.WeakKeyDictionary()
_encoder = msgspec.json.Encoder()

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
    where = str(http.base_url).rstrip("/")
    with translate_http_errors(server, where, hint):
        async with http.stream(
            "POST", endpoint(http, path), content=_encoder.encode(body), headers=_JSON
        ) as response:
            if response.is_error:
                detail = error_text(await _head(response))
                raise RunnerFailed(f"{server} respondeu {response.status_code}: {detail}")
            yield response


def endpoint(http: httpx.AsyncClient, path: str) -> httpx.URL:
    """``path`` on the client's base URL, exactly as httpx itself would merge them."""
    base, known = _endpoints.get(http, (None, {}))
    if base is not http.base_url:  # first use, or the base URL was replaced
        base, known = http.base_url, {}
        _endpoints[http] = (base, known)
    url = known.get(path)
    if url is None:
        url = known[path] = http.build_request("POST", path).url
    return url


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


@contextmanager
def translate_http_errors(server: str, base_url: str, hint: str) -> Iterator[None]:
    """Turn httpx failures into ``RunnerUnavailable`` / ``RunnerFailed``.

    Args:
        server: the server's name for messages ("Ollama", "o LM Studio").
        base_url: where it was expected, so the user knows what to fix.
        hint: what the participant should do when nothing answers there.
    """
    try:
        yield
    except httpx.ConnectError:
        raise RunnerUnavailable(f"{server} não responde em {base_url}: {hint}") from None
    except httpx.ReadTimeout:
        # The client's read timeout is --runner-timeout: no byte for that long.
        raise RunnerFailed(
            f"{server} ficou tempo demais sem mandar nada: confira se o modelo travou "
            "ou aumente --runner-timeout"
        ) from None
    except httpx.TimeoutException as exc:
        raise RunnerFailed(
            f"{server} parou de responder ({type(exc).__name__}): confira se ele ainda está rodando"
        ) from None
    except httpx.HTTPError as exc:
        reason = preview(str(exc) or type(exc).__name__)
        raise RunnerFailed(
            f"o modelo parou no meio da resposta: {server} fechou a conexão ({reason}); "
            "confira se o servidor caiu"
        ) from None


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

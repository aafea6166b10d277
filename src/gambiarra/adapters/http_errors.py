"""What every HTTP runner shares: opening a streamed generation, and turning
httpx failures into our runner errors at the adapter boundary."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import msgspec

from gambiarra.errors import RunnerFailed, RunnerUnavailable

__all__ = ["error_text", "generation_stream", "translate_http_errors"]

_JSON = {"content-type": "application/json"}
_encoder = msgspec.json.Encoder()


@asynccontextmanager
async def generation_stream(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], server: str, hint: str
) -> AsyncIterator[httpx.Response]:
    """POST a generation and hand over the streaming response, once it is known good.

    Raises:
        RunnerFailed: the server answered an error status (with its own
            message), or failed while the caller was reading the stream.
        RunnerUnavailable: nothing answered at the server's address.
    """
    where = str(http.base_url).rstrip("/")
    with translate_http_errors(server, where, hint):
        async with http.stream(
            "POST", path, content=_encoder.encode(body), headers=_JSON
        ) as response:
            if response.is_error:
                detail = error_text(await response.aread())
                raise RunnerFailed(f"{server} answered {response.status_code}: {detail}")
            yield response


@contextmanager
def translate_http_errors(server: str, base_url: str, hint: str) -> Iterator[None]:
    """Turn httpx failures into ``RunnerUnavailable`` / ``RunnerFailed``.

    Args:
        server: the server's name for messages ("Ollama", "LM Studio").
        base_url: where it was expected, so the user knows what to fix.
        hint: what the participant should do when nothing answers there.
    """
    try:
        yield
    except httpx.ConnectError:
        raise RunnerUnavailable(f"{server} não responde em {base_url}: {hint}") from None
    except httpx.ReadTimeout:
        # The client's read timeout is --runner-timeout: no byte for that long.
        raise RunnerFailed(f"{server} sent nothing for too long (--runner-timeout)") from None
    except httpx.TimeoutException as exc:
        raise RunnerFailed(f"{server} stopped answering ({type(exc).__name__})") from None
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        raise RunnerFailed(f"{server} closed the stream mid-answer: {reason}") from None


def error_text(body: bytes) -> str:
    """The server's own message from an error body, however it is shaped.

    Ollama sends ``{"error": "..."}``; OpenAI-compatible servers send
    ``{"error": {"message": "..."}}`` or ``{"error": "..."}``; anything else
    is shown as text, truncated.
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
            return error.strip()
    text = body.decode("utf-8", "replace").strip()
    return text[:200] if text else "no details"

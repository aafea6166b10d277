"""Translate httpx exceptions into our runner errors, at the adapter boundary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import msgspec

from gambiarra.errors import RunnerFailed, RunnerUnavailable

__all__ = ["error_text", "translate_http_errors"]


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

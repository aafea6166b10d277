"""Split a streamed HTTP body into lines, at the byte level.

Working on bytes (not text) means a multi-byte UTF-8 character cut between
two network chunks needs no special care: ``\\n`` never occurs inside one,
and msgspec decodes the UTF-8 of each whole line itself.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterable, AsyncIterator

import anyio

from gambiarra.errors import RunnerFailed

__all__ = ["iter_lines", "iter_sse_data"]


async def _chunks_within(
    chunks: AsyncIterable[bytes], idle_timeout: float | None
) -> AsyncIterator[bytes]:
    """Re-yield chunks, failing when none arrives for ``idle_timeout`` seconds.

    The timeout wraps each read only, never a ``yield``, so it cannot fire
    while the consumer is busy. (httpx's own read timeout lives in the network
    layer; this one also holds when a model server stalls mid-stream behind
    any transport.)
    """
    iterator = aiter(chunks)
    limit = idle_timeout if idle_timeout is not None else math.inf
    while True:
        chunk: bytes | None = None
        with anyio.move_on_after(limit):
            try:
                chunk = await anext(iterator)
            except StopAsyncIteration:
                return
        if chunk is None:
            raise RunnerFailed(f"the model server sent nothing for {limit:g} s")
        yield chunk


async def iter_lines(
    chunks: AsyncIterable[bytes], idle_timeout: float | None = None
) -> AsyncIterator[bytes]:
    """Yield each non-empty line (without its ``\\n`` or ``\\r\\n``).

    Raises:
        RunnerFailed: no byte arrived for ``idle_timeout`` seconds.
    """
    pending = b""
    async for chunk in _chunks_within(chunks, idle_timeout):
        if b"\n" not in chunk:
            pending += chunk
            continue
        *complete, rest = (pending + chunk).split(b"\n")
        pending = rest
        for line in complete:
            line = line.rstrip(b"\r")
            if line:
                yield line
    pending = pending.rstrip(b"\r")
    if pending:
        yield pending


async def iter_sse_data(
    chunks: AsyncIterable[bytes], idle_timeout: float | None = None
) -> AsyncIterator[bytes]:
    """Yield the payload of every ``data:`` line of a server-sent-events body.

    The OpenAI-compatible servers send one JSON object per event on a single
    ``data:`` line; comments (``:``) and other fields are skipped.
    """
    async for line in iter_lines(chunks, idle_timeout):
        if line.startswith(b"data:"):
            yield line[5:].lstrip(b" ")

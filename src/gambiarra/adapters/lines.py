"""Split a streamed HTTP body into lines, at the byte level.

Working on bytes (not text) means a multi-byte UTF-8 character cut between
two network chunks needs no special care: ``\\n`` never occurs inside one,
and msgspec decodes the UTF-8 of each whole line itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

__all__ = ["iter_lines", "iter_sse_data"]


async def iter_lines(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """Yield each non-empty line (without its ``\\n`` or ``\\r\\n``)."""
    pending = b""
    async for chunk in chunks:
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


async def iter_sse_data(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """Yield the payload of every ``data:`` line of a server-sent-events body.

    The OpenAI-compatible servers send one JSON object per event on a single
    ``data:`` line; comments (``:``) and other fields are skipped.
    """
    async for line in iter_lines(chunks):
        if line.startswith(b"data:"):
            yield line[5:].lstrip(b" ")

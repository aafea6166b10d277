"""Split a streamed HTTP body into lines, at the byte level, in bounded memory.

Working on bytes (not text) means a multi-byte UTF-8 character cut between
two network chunks needs no special care: ``\\n`` never occurs inside one,
and msgspec decodes the UTF-8 of each whole line itself.

A line is never longer than ``MAX_LINE`` bytes: a model server that sends
more without a line break is broken or hostile, and buffering it would take
the participant's memory with it. Splitting is linear: the unfinished line
grows in one ``bytearray``, never by concatenating ``bytes``.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

from gambiarra.errors import RunnerFailed

__all__ = ["MAX_LINE", "iter_lines", "iter_sse_data"]

# One NDJSON line or SSE event of a model server carries one piece of text: a
# few bytes. 1 MiB is far beyond any honest line, and small enough to hold.
MAX_LINE = 1 << 20


def _too_long(limit: int) -> RunnerFailed:
    size = f"{limit // (1 << 20)} MiB" if limit % (1 << 20) == 0 else f"{limit} bytes"
    return RunnerFailed(
        f"o servidor do modelo mandou uma linha de mais de {size} sem quebra de linha: "
        "confira se o endereço do servidor está certo e reinicie-o"
    )


async def iter_lines(chunks: AsyncIterable[bytes], limit: int = MAX_LINE) -> AsyncIterator[bytes]:
    """Yield each non-empty line (without its ``\\n`` or ``\\r\\n``).

    Raises:
        RunnerFailed: a line is longer than ``limit`` bytes; raised as soon as
            the unfinished line passes it, so at most ``limit`` plus one chunk
            is ever held.
    """
    pending = bytearray()
    async for chunk in chunks:
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            if pending:
                pending += memoryview(chunk)[start:end]
                line = bytes(pending)
                pending.clear()
            else:
                line = chunk[start:end]
            start = end + 1
            line = line.rstrip(b"\r")
            if len(line) > limit:
                raise _too_long(limit)
            if line:
                yield line
        pending += memoryview(chunk)[start:]
        if len(pending) > limit + 1:  # + 1: room for the "\r" of a "\r\n"
            raise _too_long(limit)
    line = bytes(pending).rstrip(b"\r")
    if len(line) > limit:
        raise _too_long(limit)
    if line:
        yield line


async def iter_sse_data(
    chunks: AsyncIterable[bytes], limit: int = MAX_LINE
) -> AsyncIterator[bytes]:
    """Yield the payload of every ``data:`` line of a server-sent-events body.

    The OpenAI-compatible servers send one JSON object per event on a single
    ``data:`` line; comments (``:``) and other fields are skipped.

    Raises:
        RunnerFailed: a line is longer than ``limit`` bytes.
    """
    async for line in iter_lines(chunks, limit):
        if line.startswith(b"data:"):
            yield line[5:].lstrip(b" ")

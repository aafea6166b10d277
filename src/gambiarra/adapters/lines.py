"""Split a streamed HTTP body into lines, at the byte level, in bounded memory.

Working on bytes (not text) means a multi-byte UTF-8 character cut between
two network chunks needs no special care: ``\\n`` never occurs inside one,
and msgspec decodes the UTF-8 of each whole line itself.

A line is never longer than ``MAX_LINE`` bytes: a model server that sends
more without a line break is broken or hostile, and buffering it would take
the participant's memory with it. Splitting is linear: the unfinished line
grows in one ``bytearray``, never by concatenating ``bytes``.

``ModelBody`` is what the runners read: the lines each network chunk
completes, as one list (a fast model sends one line per chunk, so nothing is
added per line), and ``finish()`` to read the end of a body the runner no
longer needs, so that the HTTP connection is kept for the next round instead
of being closed and opened again.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable
from contextlib import aclosing

import anyio

from gambiarra.errors import RunnerFailed

__all__ = ["FINISH_S", "MAX_LINE", "LineSplitter", "ModelBody", "iter_lines", "iter_sse_data"]

# One NDJSON line or SSE event of a model server carries one piece of text: a
# few bytes. 1 MiB is far beyond any honest line, and small enough to hold.
MAX_LINE = 1 << 20

# A server ends its body right after its last line (Ollama's done line, the
# SSE [DONE]), and sends that line right after the max_tokens-th piece: what
# is left is read for this long at most, else the connection is closed.
FINISH_S = 0.25


def _too_long(limit: int) -> RunnerFailed:
    size = f"{limit // (1 << 20)} MiB" if limit % (1 << 20) == 0 else f"{limit} bytes"
    return RunnerFailed(
        f"o servidor do modelo mandou uma linha de mais de {size} sem quebra de linha: "
        "confira se o endereço do servidor está certo e reinicie-o"
    )


class LineSplitter:
    """Cuts chunks into non-empty lines, without their ``\\n`` or ``\\r\\n``.

    Args:
        limit: the longest line allowed, in bytes. ``RunnerFailed`` is raised
            as soon as the unfinished line passes it, so at most ``limit``
            plus one chunk is ever held.
        sse: keep only the payload of ``data:`` lines (server-sent events);
            comments (``:``) and other fields are skipped.
    """

    def __init__(self, limit: int = MAX_LINE, *, sse: bool = False) -> None:
        self._limit = limit
        self._sse = sse
        self._pending = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines this chunk completes, in order."""
        end = chunk.find(b"\n")
        if end >= len(chunk) - 2 and chunk.endswith(b"\n") and not self._pending:
            # One whole line per chunk (or an SSE event and its blank line):
            # what a model server sends for every token.
            line = chunk[:end].rstrip(b"\r")
            if self._sse or len(line) > self._limit:
                return self._keep([line])
            return [line] if line else []
        if end == -1:
            self._hold(chunk)
            return []
        parts = chunk.split(b"\n")
        rest = parts.pop()
        if self._pending:
            self._pending += parts[0]
            parts[0] = bytes(self._pending)
            self._pending.clear()
        lines = self._keep(parts)
        if rest:
            self._hold(rest)
        return lines

    def end(self) -> list[bytes]:
        """The last line, when the body ended without a line break after it."""
        if not self._pending:
            return []
        tail, self._pending = bytes(self._pending), bytearray()
        return self._keep([tail])

    def _keep(self, parts: list[bytes]) -> list[bytes]:
        lines = []
        for part in parts:
            line = part.rstrip(b"\r")
            if len(line) > self._limit:
                raise _too_long(self._limit)
            if not line:
                continue
            if self._sse:
                if not line.startswith(b"data:"):
                    continue
                line = line[5:].lstrip(b" ")
            lines.append(line)
        return lines

    def _hold(self, piece: bytes) -> None:
        self._pending += piece
        if len(self._pending) > self._limit + 1:  # + 1: room for the "\r" of a "\r\n"
            raise _too_long(self._limit)


class ModelBody:
    """A streamed model answer, one network chunk at a time.

    ``async for lines in body`` gives the list of lines (or SSE payloads)
    each chunk completes; once the body has ended, a last line without a
    line break, then the end.

    Args:
        chunks: the body as it arrives (``response.aiter_raw()``).
        sse: read server-sent events: only ``data:`` payloads are given.
        limit: the longest line allowed (see ``LineSplitter``).

    Raises:
        RunnerFailed: a line is longer than ``limit``.
    """

    def __init__(
        self, chunks: AsyncIterator[bytes], *, sse: bool = False, limit: int = MAX_LINE
    ) -> None:
        self._chunks = chunks
        self._splitter = LineSplitter(limit, sse=sse)
        # An async generator, not an __anext__ coroutine: a third cheaper per chunk.
        self._lines = self._read()

    def __aiter__(self) -> AsyncGenerator[list[bytes], None]:
        return self._lines

    async def _read(self) -> AsyncGenerator[list[bytes], None]:
        feed = self._splitter.feed
        async for chunk in self._chunks:
            yield feed(chunk)
        tail = self._splitter.end()
        if tail:
            yield tail

    async def finish(self, ends: Callable[[bytes], bool | None] | None = None) -> bool:
        """Read the rest of the body while it only closes the answer; True when it ended.

        Called once the runner has all it wants, possibly in a generation
        already cancelled (the round stopped at its max_tokens): the reading is
        shielded from that cancellation, and lasts ``FINISH_S`` at most.

        Args:
            ends: for the lines still expected before the end of the answer
                (after max_tokens, the server's closing line): True for the
                line that ends the answer, False for one that carries more of
                it (a server that ignores max_tokens: reading stops, and
                closing the connection tells it to stop generating), None for
                anything else. None: the end was already seen, so any line
                stops the reading.

        Returns:
            Whether the body ended, so the connection goes back to the pool.
        """
        with anyio.CancelScope(deadline=anyio.current_time() + FINISH_S, shield=True):
            try:
                await self._lines.aclose()  # left at the line the runner stopped on
                ended = ends is None
                async with aclosing(self._read()) as rest:
                    async for lines in rest:
                        for line in lines:
                            if ended or ends is None:
                                return False
                            verdict = ends(line)
                            if verdict is False:
                                return False
                            ended = verdict is True
                return True
            except Exception:  # a broken connection or a bad line: it is not reused
                return False
        return False


async def iter_lines(chunks: AsyncIterable[bytes], limit: int = MAX_LINE) -> AsyncIterator[bytes]:
    """Yield each non-empty line (without its ``\\n`` or ``\\r\\n``).

    Raises:
        RunnerFailed: a line is longer than ``limit`` bytes; raised as soon as
            the unfinished line passes it, so at most ``limit`` plus one chunk
            is ever held.
    """
    async for lines in ModelBody(aiter(chunks), limit=limit):
        for line in lines:
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
    async for lines in ModelBody(aiter(chunks), sse=True, limit=limit):
        for line in lines:
            yield line

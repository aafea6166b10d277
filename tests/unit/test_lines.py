"""Byte-level line splitting for NDJSON and SSE bodies."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator, Callable

import anyio
import pytest

from gambiarra.adapters import lines as lines_module
from gambiarra.adapters.lines import MAX_LINE, LineSplitter, ModelBody, iter_lines, iter_sse_data
from gambiarra.errors import RunnerFailed

pytestmark = pytest.mark.anyio


async def chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def collect(iterator: AsyncIterator[bytes]) -> list[bytes]:
    return [item async for item in iterator]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
async def test_lines_survive_any_chunking(size: int) -> None:
    body = 'a\r\n{"x":"ã🎉"}\n\n\nlast'.encode()
    assert await collect(iter_lines(chunks(body, size))) == [
        b"a",
        '{"x":"ã🎉"}'.encode(),
        b"last",
    ]


async def test_sse_data_payloads_only() -> None:
    body = b': comment\nevent: x\ndata: {"a":1}\n\ndata:[DONE]\n\n'
    assert await collect(iter_sse_data(chunks(body, 5))) == [b'{"a":1}', b"[DONE]"]


@pytest.mark.parametrize("size", [1, 3, 1000])
async def test_a_line_may_be_as_long_as_the_limit_but_no_longer(size: int) -> None:
    """The limit counts the line's own bytes, not its "\\r\\n"."""
    assert await collect(iter_lines(chunks(b"12345678\r\nabc", size), limit=8)) == [
        b"12345678",
        b"abc",
    ]
    with pytest.raises(RunnerFailed, match="sem quebra de linha"):
        await collect(iter_lines(chunks(b"ok\n123456789\nabc", size), limit=8))
    with pytest.raises(RunnerFailed, match="sem quebra de linha"):
        await collect(iter_lines(chunks(b"ok\n123456789", size), limit=8))


async def test_an_endless_line_fails_early_in_bounded_memory() -> None:
    """50 MB without a line break: the runner fails after about 1 MiB, holding about that."""
    read = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal read
        yield b'{"response":"'
        for _ in range(50_000 * 1000 // 4099):
            read += 4099
            yield b"y" * 4099

    tracemalloc.start()
    try:
        with pytest.raises(RunnerFailed, match="1 MiB") as failed:
            await collect(iter_lines(endless()))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert MAX_LINE < read < MAX_LINE + 2 * 4099
    assert peak < 3 * MAX_LINE
    assert len(str(failed.value)) < 500


async def test_sse_lines_are_limited_too() -> None:
    with pytest.raises(RunnerFailed):
        await collect(iter_sse_data(chunks(b"data: " + b"x" * 20 + b"\n", 7), limit=16))


@pytest.mark.parametrize(
    ("chunk", "lines"),
    [
        (b'{"a":1}\n', [b'{"a":1}']),
        (b'{"a":1}\r\n', [b'{"a":1}']),
        (b"\n", []),
        (b"\r\n", []),
        (b'{"a":1}\n\n', [b'{"a":1}']),
    ],
)
def test_one_line_per_chunk_is_cut_whole(chunk: bytes, lines: list[bytes]) -> None:
    """What a model server sends for every token: one line (or event) per chunk."""
    assert LineSplitter().feed(chunk) == lines


def test_sse_events_one_per_chunk_keep_only_their_data() -> None:
    splitter = LineSplitter(sse=True)
    assert splitter.feed(b'data: {"a":1}\n\n') == [b'{"a":1}']
    assert splitter.feed(b": keep-alive\n\n") == []
    assert splitter.feed(b"data:[DONE]\n\n") == [b"[DONE]"]


def test_a_whole_line_over_the_limit_in_one_chunk_is_refused() -> None:
    with pytest.raises(RunnerFailed):
        LineSplitter(limit=4).feed(b"12345\n")
    assert LineSplitter(limit=4).feed(b"1234\r\n") == [b"1234"]


def test_a_line_cut_across_chunks_is_joined_before_a_whole_one() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b'{"a"') == []
    assert splitter.feed(b":1}\n") == [b'{"a":1}']
    assert splitter.feed(b'{"b":2}\n') == [b'{"b":2}']
    assert splitter.end() == []


async def test_the_body_gives_the_lines_of_each_chunk_then_the_unfinished_last() -> None:
    body = ModelBody(aiter(chunks(b"a\nb\nc", 2)))
    assert [lines async for lines in body] == [[b"a"], [b"b"], [], [b"c"]]


class Body:
    """A body that says whether it was read to its end, and waits where told."""

    def __init__(self, *parts: bytes, stall_after: int | None = None) -> None:
        self.parts = parts
        self.stall_after = stall_after
        self.produced = 0
        self.ended = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            if self.produced == self.stall_after:
                await anyio.sleep_forever()  # a server that never ends its body
            self.produced += 1
            yield part
        self.ended = True


def is_done(line: bytes) -> bool | None:
    return True if line == b"done" else (False if line.startswith(b"text") else None)


async def read_then_finish(
    body: Body, pieces: int, ends: Callable[[bytes], bool | None] | None
) -> bool:
    answer = ModelBody(aiter(body))
    async for lines in answer:
        pieces -= len(lines)
        if pieces <= 0:
            break
    return await answer.finish(ends)


async def test_finish_reads_the_end_of_the_body_after_the_closing_line() -> None:
    """The connection goes back to the pool only once the body was read to its end."""
    body = Body(b"text 1\n", b"done\n", b"")
    assert await read_then_finish(body, 2, None)
    assert body.ended


async def test_finish_after_max_tokens_reads_the_closing_line_and_the_end() -> None:
    body = Body(b"text 1\n", b"text 2\n", b"stats\n", b"done\n")
    assert await read_then_finish(body, 2, is_done)
    assert body.ended


async def test_finish_stops_at_more_text_from_a_server_that_ignores_max_tokens() -> None:
    body = Body(b"text 1\n", b"text 2\n", b"text 3\n", b"text 4\n", b"done\n")
    assert not await read_then_finish(body, 2, is_done)
    assert body.produced == 3  # the rest is never read: closing tells the server to stop
    assert not body.ended


async def test_finish_stops_at_a_line_after_the_closing_one() -> None:
    body = Body(b"done\n", b"what now\n", b"")
    assert not await read_then_finish(body, 1, None)
    assert not body.ended


async def test_finish_gives_up_on_a_body_that_does_not_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lines_module, "FINISH_S", 0.01)
    body = Body(b"done\n", b"", stall_after=1)
    with anyio.fail_after(5):
        assert not await read_then_finish(body, 1, None)
    assert not body.ended


async def test_finish_is_shielded_from_the_generation_being_cancelled() -> None:
    """The round machine cancels the generation at max_tokens; the end is still read."""
    body = Body(b"text 1\n", b"done\n", b"")
    answer = ModelBody(aiter(body))
    with anyio.CancelScope() as scope:
        async for _ in answer:
            scope.cancel()  # as the machine does at the max_tokens-th piece
            finished = await answer.finish(is_done)
            break
    assert finished
    assert body.ended

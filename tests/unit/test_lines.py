"""Byte-level line splitting for NDJSON and SSE bodies."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator

import pytest

from gambiarra.adapters.lines import MAX_LINE, iter_lines, iter_sse_data
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

"""Byte-level line splitting for NDJSON and SSE bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gambiarra.adapters.lines import iter_lines, iter_sse_data

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

"""Hostile model servers: huge pieces, endless lines, ignored limits.

Each model server is mocked with respx and streams a body generated lazily, in
odd chunk sizes, like a real socket (every chunk is a checkpoint, so closing
the response really stops it). The client plays against the strict practice
arena over a real loopback socket.
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import AsyncIterator, Iterator

import anyio
import anyio.lowlevel
import httpx
import pytest
import respx

from gambiarra.arena.records import RoundRecord
from gambiarra.arena.server import PracticeArena
from tests.conftest import wire
from tests.fakes import ScriptedRunner
from tests.integration.conftest import OLLAMA, fast_container, playing, settings_for

pytestmark = pytest.mark.anyio

MiB = 1 << 20
ODD = 4099  # bytes per chunk: lines are cut anywhere, even inside a UTF-8 character


class LazyBody(httpx.AsyncByteStream):
    """A body produced only as fast as the client reads it; remembers how far it got."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self.produced = 0  # chunks handed to the client
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            await anyio.lowlevel.checkpoint()  # a real socket read waits here
            self.produced += 1
            yield chunk

    async def aclose(self) -> None:
        self.closed = True


def rechunk(parts: Iterator[bytes], size: int) -> Iterator[bytes]:
    """The same bytes, cut into chunks of ``size`` (the last one shorter)."""
    buffer = bytearray()
    for part in parts:
        buffer += part
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


def ollama_line(response: str, done: bool = False) -> bytes:
    return json.dumps({"response": response, "done": done}).encode() + b"\n"


def good_round() -> httpx.Response:
    return httpx.Response(200, content=wire("ollama-generate.ndjson"))


def serve(body: LazyBody) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "application/x-ndjson"}, stream=body)


async def test_a_piece_bigger_than_a_frame_is_split_and_counted_once(
    arena: PracticeArena,
) -> None:
    """A 10 MB piece reaches the arena whole, in frames under 1 MiB, as one token."""
    big = 'Era ã "aspas" \\ \n\t' * 500_000  # JSON escapes included: it only grows
    assert len(big.encode()) > 9 * MiB
    settings = settings_for(arena, rounds=1)
    container = fast_container(settings, runner=ScriptedRunner("Oi", big, "!"))
    async with playing(settings, container):
        with anyio.fail_after(20):
            await arena.wait_registered("ana-pc")
            record = await arena.start_round("Escreva muito")
            await record.entry("ana-pc").done.wait()
    entry = record.entry("ana-pc")
    assert entry.text == "Oi" + big + "!"
    assert len(entry.tokens) > 3  # the big piece took several frames
    assert entry.complete is not None
    assert entry.complete["tokens"] == 3
    assert 1009 not in arena.close_codes
    assert len(arena.registrations) == 1
    assert arena.invalid == []


async def test_a_model_line_just_under_the_cap_never_gets_the_link_closed(
    arena: PracticeArena,
) -> None:
    """A piece that fits a model line but not, as is, a token frame: split, not 1009."""
    piece = "x" * (MiB - 64)  # the NDJSON line stays under 1 MiB; the token frame would not
    body = LazyBody(rechunk(iter([ollama_line(piece), ollama_line("", done=True)]), ODD))
    settings = settings_for(arena, runner="ollama", model="llama3.1:8b", rounds=1)
    with respx.mock(base_url=OLLAMA) as mock:
        mock.get("/api/tags").respond(200, content=wire("ollama-tags.json"))
        mock.post("/api/show").respond(200, content=wire("ollama-show.json"))
        mock.post("/api/generate").mock(return_value=serve(body))
        async with playing(settings, fast_container(settings)):
            with anyio.fail_after(10):
                await arena.wait_registered("ana-pc")
                record = await arena.start_round("Escreva muito")
                await record.entry("ana-pc").done.wait()
    entry = record.entry("ana-pc")
    assert entry.text == piece
    assert entry.complete is not None
    assert entry.complete["tokens"] == 1
    assert 1009 not in arena.close_codes
    assert len(arena.registrations) == 1


def endless_line() -> Iterator[bytes]:
    """50 MB of one line with no line break, produced on demand."""
    yield b'{"response":"'
    yield from (b"y" * 1000 for _ in range(50_000))


async def test_an_endless_model_line_fails_the_round_with_bounded_memory(
    arena: PracticeArena,
) -> None:
    """A 50 MB line: an error for the round, memory stays small, the next round plays."""
    hostile = LazyBody(rechunk(endless_line(), ODD))
    settings = settings_for(arena, runner="ollama", model="llama3.1:8b", rounds=2)
    with respx.mock(base_url=OLLAMA) as mock:
        mock.get("/api/tags").respond(200, content=wire("ollama-tags.json"))
        mock.post("/api/show").respond(200, content=wire("ollama-show.json"))
        mock.post("/api/generate").mock(side_effect=[serve(hostile), good_round()])
        async with playing(settings, fast_container(settings)):
            with anyio.fail_after(5):
                await arena.wait_registered("ana-pc")
            tracemalloc.start()
            try:
                with anyio.fail_after(10):
                    failed = await arena.start_round("Escreva sem parar")
                    await failed.entry("ana-pc").done.wait()
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            with anyio.fail_after(10):
                record = await arena.start_round("Era uma vez")
                await record.entry("ana-pc").done.wait()
    entry = failed.entry("ana-pc")
    assert entry.complete is None
    assert "1 MiB" in entry.errors[0]["message"]
    assert peak < 4 * MiB
    assert hostile.closed
    assert hostile.produced * ODD < 2 * MiB  # reading stopped soon after the cap
    assert record.entry("ana-pc").complete is not None
    assert len(arena.registrations) == 1


def chatty(pieces: int) -> Iterator[bytes]:
    """A model server that ignores max_tokens: one line per chunk."""
    for i in range(pieces):
        yield ollama_line(f" p{i}")
    yield ollama_line("", done=True)


async def test_the_client_stops_a_model_that_ignores_max_tokens(arena: PracticeArena) -> None:
    """120 pieces for max_tokens 20: the arena gets exactly 20 and the stream is closed."""
    body = LazyBody(chatty(120))
    settings = settings_for(arena, runner="ollama", model="llama3.1:8b", rounds=1)
    with respx.mock(base_url=OLLAMA) as mock:
        mock.get("/api/tags").respond(200, content=wire("ollama-tags.json"))
        mock.post("/api/show").respond(200, content=wire("ollama-show.json"))
        mock.post("/api/generate").mock(return_value=serve(body))
        async with playing(settings, fast_container(settings)):
            with anyio.fail_after(10):
                await arena.wait_registered("ana-pc")
                record = await arena.start_round("Conte até 120", max_tokens=20)
                await record.entry("ana-pc").done.wait()
    entry = record.entry("ana-pc")
    assert entry.tokens == [f" p{i}" for i in range(20)]
    assert entry.complete is not None
    assert entry.complete["tokens"] == 20
    assert entry.completes == 1
    assert body.closed
    assert body.produced < 121  # the rest was never read


async def test_integral_floats_in_a_challenge_are_played(arena: PracticeArena) -> None:
    """``max_tokens: 10.0`` (and ``round: 1.0``) is a round of 10 tokens, not a skipped one."""
    body = LazyBody(chatty(30))
    settings = settings_for(arena, runner="ollama", model="llama3.1:8b", rounds=1)
    challenge = {
        "type": "challenge",
        "session_id": arena.session_id,
        "round": 1.0,
        "prompt": "Conte até 30",
        "max_tokens": 10.0,
        "temperature": 0.5,
        "deadline_ms": 30000.0,
    }
    with respx.mock(base_url=OLLAMA) as mock:
        mock.get("/api/tags").respond(200, content=wire("ollama-tags.json"))
        mock.post("/api/show").respond(200, content=wire("ollama-show.json"))
        generate = mock.post("/api/generate").mock(return_value=serve(body))
        async with playing(settings, fast_container(settings)):
            with anyio.fail_after(10):
                await arena.wait_registered("ana-pc")
                record = RoundRecord(
                    1,
                    challenge,
                    anyio.current_time(),
                    session_id=arena.session_id,
                    started_at_ms=arena.server_time_ms(),
                )
                arena.rounds.append(record)
                await arena.send_raw("ana-pc", json.dumps(challenge))
                await record.entry("ana-pc").done.wait()
    entry = record.entry("ana-pc")
    assert entry.tokens == [f" p{i}" for i in range(10)]
    assert entry.complete is not None
    assert entry.complete["tokens"] == 10
    options = json.loads(generate.calls[0].request.content)["options"]
    assert options["num_predict"] == 10
    assert type(options["num_predict"]) is int
    assert arena.invalid == []

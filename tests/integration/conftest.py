"""Integration helpers: a practice arena on loopback and model servers replayed by respx."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace

import anyio
import anyio.abc
import httpx
import pytest
from dependency_injector import providers

from gambiarra.app import play
from gambiarra.arena.records import RoundRecord
from gambiarra.arena.server import PracticeArena
from gambiarra.config import Settings
from gambiarra.containers import Container, build

OLLAMA = "http://ollama.test"
LMSTUDIO = "http://lmstudio.test"
CHUNK_SIZES = [1, 7, None]  # None: the whole body at once


@pytest.fixture
async def arena() -> AsyncIterator[PracticeArena]:
    async with PracticeArena(pin="4321") as running:
        yield running


def settings_for(arena: PracticeArena, **overrides: object) -> Settings:
    base = Settings(
        pin=arena.pin,
        participant_id="ana-pc",
        nickname="Ana",
        url=arena.url,
        runner="mock",
        model="mock",
        mock_tps=0.0,
        ollama_url=OLLAMA,
        lmstudio_url=LMSTUDIO,
        # Off unless a test is about them: loading and describing the model
        # add model-server requests that most fakes do not answer.
        no_warm=True,
        no_device_info=True,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def fast_container(
    settings: Settings,
    *,
    runner: object | None = None,
    keepalive: float = 20.0,
    backoff: bool = False,
) -> Container:
    """The real container, silent, with test-sized timings.

    Args:
        runner: a runner to use instead of the configured one.
        keepalive: websockets' ping interval and timeout, so a silent link is
            noticed in about twice this.
        backoff: keep the real LAN backoff (else reconnect after 10 ms).
    """
    container = build(settings, view="silent")
    timings: dict[str, object] = {"ack_interval": 0.02, "record_grace": 0.01}
    container.socket_options.add_kwargs(ping_interval=keepalive, ping_timeout=keepalive)
    if not backoff:
        timings["delays"] = lambda: itertools.repeat(0.01)
    container.transport.add_kwargs(**timings)
    if runner is not None:
        container.runner.override(providers.Object(runner))
    return container


@asynccontextmanager
async def playing(
    settings: Settings, container: Container | None = None
) -> AsyncIterator[anyio.abc.TaskGroup]:
    """Run the real client (container-built, silent view) beside the test body."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(play, settings, container or build(settings, view="silent"))
        yield tg


def faulty_proxy_url(upstream_url: str):  # type: ignore[no-untyped-def]
    """The fault-injecting proxy (imported lazily: most tests do not need it)."""
    from tests.integration.proxy import faulty_proxy

    return faulty_proxy(upstream_url)


def report(label: str, record: RoundRecord, participant_id: str = "ana-pc") -> None:
    """One line of what the arena recorded, for the closing note (pytest -s)."""
    entry = record.entry(participant_id)
    done = (
        "—"
        if entry.complete_at is None
        else f"{(entry.complete_at - record.broadcast_at) * 1000:.0f} ms"
    )
    claimed = entry.complete["tokens"] if entry.complete else None
    print(
        f"\n[arena] {label}: received {len(entry.tokens)} tokens in order, "
        f"complete says {claimed}, completes={entry.completes}, "
        f"duplicates dropped={entry.dropped}, complete at {done}"
    )


class ChunkedBody(httpx.AsyncByteStream):
    """A response body delivered in fixed-size chunks; remembers being closed."""

    def __init__(self, data: bytes, size: int | None) -> None:
        self.data = data
        self.size = size or max(1, len(data))
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i in range(0, len(self.data), self.size):
            yield self.data[i : i + self.size]

    async def aclose(self) -> None:
        self.closed = True


def replay(
    data: bytes, size: int | None, status: int = 200, content_type: str = "application/x-ndjson"
) -> Callable[[httpx.Request], httpx.Response]:
    """A respx side effect answering every request with the same chunked body."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status, headers={"content-type": content_type}, stream=ChunkedBody(data, size)
        )

    return answer


def ollama_pieces(data: bytes) -> list[str]:
    """The answer pieces in an Ollama NDJSON body, read independently of the client."""
    pieces = []
    for line in data.decode().splitlines():
        obj = json.loads(line)
        if obj.get("response"):
            pieces.append(obj["response"])
    return pieces


def sse_text_pieces(data: bytes) -> list[str]:
    """The ``choices[0].text`` pieces of an OpenAI completions SSE body."""
    pieces = []
    for line in data.decode().splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            text = json.loads(line[6:])["choices"][0].get("text")
            if text:
                pieces.append(text)
    return pieces


def request_body(route_calls: Iterator[object] | list[object], index: int = 0) -> dict[str, object]:
    call = list(route_calls)[index]
    return json.loads(call.request.content)  # type: ignore[attr-defined,no-any-return]

"""Never lose a token: link cuts, silent links, deadlines, superseded rounds.

Every test plays against the strict practice arena over real loopback
sockets, most through a fault-injecting TCP proxy. The arena drops any token
whose seq is not exactly the next one, so "the arena has the whole text, in
order" also proves no token was skipped or re-sent under a new seq.
"""

from __future__ import annotations

import json

import anyio
import httpx
import pytest
import respx
import structlog

from gambiarra.adapters.mock import MockRunner
from gambiarra.app import play
from gambiarra.arena.server import Flavor, PracticeArena
from gambiarra.domain.events import GenerationRequest
from gambiarra.errors import ArenaRejected
from tests.integration.conftest import (
    OLLAMA,
    fast_container,
    playing,
    report,
    settings_for,
)
from tests.integration.proxy import FaultyProxy, faulty_proxy

pytestmark = pytest.mark.anyio


def mock_text(length: int, round_: int, prompt: str = "Era uma vez") -> list[str]:
    return MockRunner(length=length).text(GenerationRequest(round_, prompt, length, 0.8))


async def play_through_faults(
    cut_after: set[int], *, blackhole: bool = False
) -> tuple[PracticeArena, FaultyProxy]:
    """A 400-token round at 400 tokens/s through a proxy that faults after these tokens."""
    async with PracticeArena(pin="4321") as arena, faulty_proxy(arena.url) as proxy:
        if blackhole:
            proxy.blackhole_after_tokens = cut_after
        else:
            proxy.cut_after_tokens = cut_after
        settings = settings_for(arena, url=proxy.url(), rounds=1)
        runner = MockRunner("mock", tokens_per_second=400, length=400)
        container = fast_container(settings, runner=runner, keepalive=0.2 if blackhole else 20.0)
        async with playing(settings, container):
            await arena.wait_registered("ana-pc")
            record = await arena.start_round("Era uma vez", max_tokens=400)
            with anyio.fail_after(15):
                await record.entry("ana-pc").done.wait()
    return arena, proxy


async def test_cut_after_token_50_of_400_loses_nothing() -> None:
    """The link drops mid-round; generation goes on; the arena ends with all 400, once."""
    arena, _ = await play_through_faults({50})
    record = arena.rounds[0]
    entry = record.entry("ana-pc")
    report("cut after token 50 of 400", record)
    assert entry.tokens == mock_text(400, record.index)
    assert entry.completes == 1
    assert entry.complete is not None
    assert entry.complete["tokens"] == 400
    assert len(arena.registrations) == 2


async def test_cut_every_40_tokens_loses_nothing() -> None:
    arena, proxy = await play_through_faults(set(range(40, 400, 40)))
    record = arena.rounds[0]
    entry = record.entry("ana-pc")
    report("cut every 40 tokens", record)
    assert entry.tokens == mock_text(400, record.index)
    assert entry.completes == 1
    assert entry.complete is not None
    assert entry.complete["tokens"] == 400
    assert proxy.cuts == 9
    assert len(arena.registrations) == 10


async def test_silent_link_is_declared_dead_and_the_round_completes() -> None:
    """Proxy stops forwarding both ways with sockets open: keepalive notices, client reconnects."""
    arena, _ = await play_through_faults({50}, blackhole=True)
    record = arena.rounds[0]
    entry = record.entry("ana-pc")
    report("silent link after token 50", record)
    assert entry.tokens == mock_text(400, record.index)
    assert entry.completes == 1
    assert len(arena.registrations) == 2


class SlowBody(httpx.AsyncByteStream):
    """An Ollama stream at a fixed pace; remembers whether the client closed it."""

    def __init__(self, lines: int, interval: float) -> None:
        self.lines = lines
        self.interval = interval
        self.closed = False

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        for i in range(self.lines):
            await anyio.sleep(self.interval)  # the model's own pace, not a test wait
            yield (json.dumps({"response": f" t{i}", "done": False}) + "\n").encode()
        yield b'{"response":"","done":true}\n'

    async def aclose(self) -> None:
        self.closed = True


async def test_deadline_stops_the_model_and_completes_in_time(arena: PracticeArena) -> None:
    """deadline 500 ms, a model at 50 ms a token: complete before 600 ms, nothing after it."""
    body = SlowBody(lines=40, interval=0.05)
    settings = settings_for(arena, runner="ollama", model="llama3.1:8b", rounds=1)
    with respx.mock(base_url=OLLAMA) as mock:
        mock.get("/api/tags").respond(200, json={"models": [{"name": "llama3.1:8b"}]})
        mock.post("/api/show").respond(200, json={"capabilities": ["completion"]})
        mock.post("/api/generate").mock(return_value=httpx.Response(200, stream=body))
        async with playing(settings, fast_container(settings)):
            await arena.wait_registered("ana-pc")
            record = await arena.start_round("Era uma vez", deadline_ms=500)
            entry = record.entry("ana-pc")
            with anyio.fail_after(5):
                await entry.done.wait()
            await arena.wait_for(lambda: body.closed)
    report("deadline 500 ms, model at 50 ms/token", record)
    assert entry.complete is not None
    assert entry.complete_at is not None
    assert entry.complete_at - record.broadcast_at < 0.6
    assert all(at <= entry.complete_at for at in entry.token_times)
    assert entry.complete["tokens"] == len(entry.tokens)
    assert 5 <= len(entry.tokens) <= 10
    assert body.closed


async def test_new_challenge_completes_the_old_round_and_starts_at_once(
    arena: PracticeArena,
) -> None:
    settings = settings_for(arena, rounds=2)
    container = fast_container(settings, runner=MockRunner("mock", 200, length=400))
    async with playing(settings, container):
        await arena.wait_registered("ana-pc")
        first = await arena.start_round("primeira", max_tokens=400)
        old = first.entry("ana-pc")
        await arena.wait_for(lambda: len(old.tokens) >= 20)
        second = await arena.start_round("segunda", max_tokens=10)
        new = second.entry("ana-pc")
        with anyio.fail_after(5):
            await new.done.wait()
    report("round 1 superseded after >= 20 tokens", first)
    report("round 2", second)
    assert old.completes == 1
    assert old.complete is not None
    assert old.complete["tokens"] == len(old.tokens) < 400
    assert old.complete_at is not None
    assert new.first_token_at is not None
    assert old.complete_at <= new.first_token_at
    assert new.tokens == mock_text(10, second.index, "segunda")


async def test_duplicate_challenge_is_ignored(arena: PracticeArena) -> None:
    settings = settings_for(arena, rounds=1)
    container = fast_container(settings, runner=MockRunner("mock", 400, length=100))
    async with playing(settings, container):
        await arena.wait_registered("ana-pc")
        record = await arena.start_round("Era uma vez", max_tokens=100)
        entry = record.entry("ana-pc")
        await arena.wait_for(lambda: len(entry.tokens) >= 10)
        await arena.rebroadcast(record)
        with anyio.fail_after(5):
            await entry.done.wait()
    assert entry.tokens == mock_text(100, record.index)
    assert entry.completes == 1
    assert entry.dropped == 0


@pytest.mark.parametrize("flavor", ["typescript", "python"])
async def test_no_active_session_then_session_opened(flavor: Flavor) -> None:
    """The client keeps retrying until the organiser opens the session, then plays."""
    async with PracticeArena(pin="4321", flavor=flavor, session_open=False) as arena:
        settings = settings_for(arena, rounds=1)
        async with playing(settings, fast_container(settings)):
            await arena.wait_for(lambda: arena.register_attempts >= 3)
            arena.open_session()
            await arena.wait_registered("ana-pc")
            record = await arena.start_round("oi", max_tokens=5)
            with anyio.fail_after(5):
                await record.entry("ana-pc").done.wait()
    assert record.entry("ana-pc").completes == 1
    assert len(arena.registrations) == 1


@pytest.mark.parametrize("flavor", ["typescript", "python"])
async def test_wrong_pin_stops_without_a_second_attempt(flavor: Flavor) -> None:
    async with PracticeArena(pin="4321", flavor=flavor) as arena:
        settings = settings_for(arena, pin="0000")
        with anyio.fail_after(5), pytest.raises(ArenaRejected, match="recusou o PIN"):
            await play(settings, fast_container(settings))
    assert arena.register_attempts == 1


async def test_session_ended_reconnects_then_asks_for_the_new_pin(arena: PracticeArena) -> None:
    settings = settings_for(arena)

    async def organiser_opens_a_new_session() -> None:
        await arena.wait_registered("ana-pc")
        await arena.end_session(new_pin="9999")

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(organiser_opens_a_new_session)
            with pytest.raises(ArenaRejected, match="novo PIN"):
                await play(settings, fast_container(settings))
    assert arena.register_attempts == 2


async def test_huge_frame_costs_a_reconnect_not_the_round(arena: PracticeArena) -> None:
    """Over 1 MiB, websockets closes the link; the client reconnects and plays on."""
    settings = settings_for(arena, rounds=1)
    async with playing(settings, fast_container(settings)):
        await arena.wait_registered("ana-pc")
        await arena.send_raw("ana-pc", '{"type":"heartbeat","pad":"' + "x" * 2**21 + '"}')
        await arena.wait_for(lambda: len(arena.registrations) == 2)
        record = await arena.start_round("oi", max_tokens=7)
        with anyio.fail_after(5):
            await record.entry("ana-pc").done.wait()
    assert record.entry("ana-pc").completes == 1
    assert 1009 in arena.close_codes


async def test_pings_are_answered_while_the_model_streams_flat_out() -> None:
    """An arena pinging every 20 ms keeps the link through a 20 000-token instant round."""
    async with PracticeArena(pin="4321", ping_interval=0.02, ping_timeout=0.2) as arena:
        settings = settings_for(arena, rounds=1)
        container = fast_container(settings, runner=MockRunner("mock", 0, length=20_000))
        async with playing(settings, container):
            await arena.wait_registered("ana-pc")
            record = await arena.start_round("corre", max_tokens=20_000)
            with anyio.fail_after(60):
                await record.entry("ana-pc").done.wait()
    entry = record.entry("ana-pc")
    assert len(entry.tokens) == 20_000
    assert len(arena.registrations) == 1


async def test_invalid_message_format_is_logged_as_a_client_bug(arena: PracticeArena) -> None:
    """The arena answering "Invalid message format" means we sent something wrong: say what."""
    settings = settings_for(arena, rounds=1)
    with structlog.testing.capture_logs() as logs:
        async with playing(settings, fast_container(settings)):
            await arena.wait_registered("ana-pc")
            await arena.send_raw("ana-pc", '{"type":"error","message":"Invalid message format"}')
            record = await arena.start_round("segue o jogo", max_tokens=3)
            with anyio.fail_after(5):
                await record.entry("ana-pc").done.wait()
    bugs = [e for e in logs if e["event"] == "client_bug_reported_by_arena"]
    assert bugs
    assert bugs[0]["log_level"] == "error"
    assert bugs[0]["after"] == "register"
    assert record.entry("ana-pc").completes == 1


async def test_the_outbox_limit_never_drops_tokens_while_the_link_is_up(
    arena: PracticeArena,
) -> None:
    """The bound is for a link that is down; a fast model on a live link loses nothing."""
    from gambiarra.domain.outbox import Outbox

    settings = settings_for(arena, rounds=1)
    container = fast_container(settings, runner=MockRunner("mock", 0, length=300))
    container.transport.add_kwargs(outbox=Outbox(limit=10), ack_interval=60.0)
    async with playing(settings, container):
        await arena.wait_registered("ana-pc")
        record = await arena.start_round("Era uma vez", max_tokens=300)
        with anyio.fail_after(5):
            await record.entry("ana-pc").done.wait()
    assert record.entry("ana-pc").tokens == mock_text(300, record.index)

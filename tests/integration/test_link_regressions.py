"""The link keeps each answer whole and single through the arena's slow or failing HTTP side.

Regression tests from a review of the link layer, against the practice arena
over real sockets. The arena's trouble comes from its public test knobs
(``fail_http``, ``record_delay``, ``restart``, ``drop``); the client's record
check waits a short ``record_grace`` wherever the test is not about that grace.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import httpx
import pytest
from dependency_injector import providers

from gambiarra.adapters.arena_link import ArenaLink
from gambiarra.app import play
from gambiarra.arena.server import PracticeArena
from gambiarra.config import Settings
from gambiarra.containers import Container, build
from gambiarra.domain.events import GenerationRequest
from gambiarra.service import FLUSH_TIMEOUT
from tests.fakes import RecordingView, ScriptedRunner
from tests.integration.conftest import fast_container, playing, settings_for
from tests.integration.proxy import faulty_proxy

pytestmark = pytest.mark.anyio

GRACE = 0.01  # the record check's grace where a test is not about it


class WatchedView(RecordingView):
    """A recording view whose test can wait for what the participant sees."""

    def __init__(self) -> None:
        super().__init__()
        self._changed = anyio.Event()

    def round_started(self, request: GenerationRequest) -> None:
        super().round_started(request)
        self._touch()

    def status(self, event: str, text: str) -> None:
        super().status(event, text)
        self._touch()

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        while not condition():
            await self._changed.wait()

    async def wait_status(self, text: str) -> None:
        await self.wait_for(lambda: text in self.statuses)

    def _touch(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()


def watched(container: Container) -> WatchedView:
    view = WatchedView()
    container.view.override(providers.Object(view))
    return view


def client(settings: Settings, runner: ScriptedRunner, grace: float = GRACE) -> Container:
    """The real client with test timings and a record check after ``grace`` seconds."""
    container = fast_container(settings, runner=runner)
    container.transport.add_kwargs(record_grace=grace)
    return container


async def play_then_set(settings: Settings, container: Container, done: anyio.Event) -> None:
    await play(settings, container)
    done.set()


async def test_a_client_with_rounds_exits_once_its_last_unconfirmed_round_proves_recorded() -> None:
    """A --rounds client whose last complete was recorded but never confirmed exits at once."""
    async with PracticeArena(pin="4321") as arena, faulty_proxy(arena.url) as proxy:
        proxy.cut_after_completes = {1}  # the arena reads the complete; no pong comes back
        settings = settings_for(arena, url=proxy.url(), rounds=1)
        container = client(settings, ScriptedRunner("Era", " uma", " vez"))
        finished = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(play_then_set, settings, container, finished)
            # Well before FLUSH_TIMEOUT, the most a client waits for confirmations.
            with anyio.fail_after(FLUSH_TIMEOUT / 2):
                await arena.wait_registered("ana-pc")
                await arena.wait_for(lambda: arena.http_requests["/rounds/current"] >= 1)
                record = await arena.start_round("Era uma vez", max_tokens=3)
                await finished.wait()
    entry = record.entry("ana-pc")
    assert proxy.cuts == 1
    assert (entry.text, entry.completes) == ("Era uma vez", 1)


@pytest.mark.parametrize("status", [500, 429])
async def test_a_complete_the_arena_never_read_is_resent_when_its_record_cannot_be_read(
    status: int,
) -> None:
    """A complete cut off before the arena read it is sent again when the record look-up fails."""
    async with PracticeArena(pin="4321") as arena, faulty_proxy(arena.url) as proxy:
        arena.fail_http(status, "/responses")
        proxy.cut_after_tokens = {3}  # the link dies after the last token, before the complete
        settings = settings_for(arena, url=proxy.url(), rounds=1)
        container = client(settings, ScriptedRunner("Era", " uma", " vez"))
        finished = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(play_then_set, settings, container, finished)
            with anyio.fail_after(5):
                await arena.wait_registered("ana-pc")
                await arena.wait_for(lambda: arena.http_requests["/rounds/current"] >= 1)
                record = await arena.start_round("Era uma vez", max_tokens=3)
                await finished.wait()  # the client exits once the arena has its last frame
                await arena.wait_for(lambda: not arena.is_connected("ana-pc"))
    entry = record.entry("ana-pc")
    assert proxy.cuts == 1
    assert arena.http_requests[f"/rounds/{record.id}/responses"] >= 1  # looked up, and failed
    assert (entry.text, entry.completes) == ("Era uma vez", 1)


async def test_a_complete_the_arena_records_a_moment_late_is_not_sent_again() -> None:
    """A complete the arena records after the first look is found by the second, not re-sent."""
    # The record shows up between the client's first look (after one grace) and its second.
    async with PracticeArena(pin="4321", record_delay=0.3) as arena:
        settings = settings_for(arena)
        container = client(settings, ScriptedRunner("Era", " uma", " vez"), grace=0.2)
        view = watched(container)
        async with playing(settings, container) as tg:
            with anyio.fail_after(5):
                await arena.wait_registered("ana-pc")
                await arena.wait_for(lambda: arena.http_requests["/rounds/current"] >= 1)
                record = await arena.start_round("Era uma vez", max_tokens=3)
                await view.wait_status("✓ a arena registrou a rodada 1 (11 caracteres)")
            tg.cancel_scope.cancel()
    entry = record.entry("ana-pc")
    assert (entry.text, entry.completes) == ("Era uma vez", 1)


class HeldHealth(httpx.AsyncBaseTransport):
    """The client's HTTP to the arena, with ``GET /health`` held until ``release`` is set."""

    def __init__(self) -> None:
        self._real = httpx.AsyncHTTPTransport()
        self.release = anyio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            await self.release.wait()
        return await self._real.handle_async_request(request)

    async def aclose(self) -> None:
        await self._real.aclose()


async def test_a_round_looked_up_before_a_newer_challenge_is_not_joined_after_it() -> None:
    """A running round looked up before a newer challenge arrived is not joined after that one."""
    async with PracticeArena(pin="4321") as arena:
        old = await arena.start_round("velha", max_tokens=5, deadline_ms=60_000)
        settings = settings_for(arena)
        runner = ScriptedRunner("a", " b")
        container = client(settings, runner)
        held = HeldHealth()
        container.arena_http.add_kwargs(transport=held)
        view = watched(container)
        async with playing(settings, container) as tg:
            with anyio.fail_after(5):
                await arena.wait_registered("ana-pc")
                # The client saw "velha" running and now waits for the server clock.
                await arena.wait_for(lambda: arena.http_requests["/rounds/current"] >= 1)
                new = await arena.start_round("nova", max_tokens=5)
                await view.wait_for(lambda: bool(view.started))
                held.release.set()
                # Round 2's frames wait for the look-ups to settle; its record comes later.
                await view.wait_status("✓ a arena registrou a rodada 2 (3 caracteres)")
            tg.cancel_scope.cancel()
    assert [r.prompt for r in runner.requests] == ["nova"]
    assert not [s for s in view.statuses if "já em andamento" in s]
    assert old.entry("ana-pc").tokens == []
    assert new.entry("ana-pc").completes == 1


async def test_a_recorded_round_is_not_streamed_again_after_an_arena_restart() -> None:
    """After a restart empties the arena's buffers, a round it recorded is not streamed again."""
    async with PracticeArena(pin="4321") as arena:
        settings = settings_for(arena, rounds=2)
        container = client(settings, ScriptedRunner("Era", " uma", " vez"))
        view = watched(container)
        finished = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(play_then_set, settings, container, finished)
            with anyio.fail_after(5):
                await arena.wait_registered("ana-pc")
                await arena.wait_for(lambda: arena.http_requests["/rounds/current"] >= 1)
                first = await arena.start_round("Era uma vez", max_tokens=3)
                await view.wait_status("✓ a arena registrou a rodada 1 (11 caracteres)")
                await arena.restart()
                await arena.wait_for(lambda: len(arena.registrations) == 2)
                # The round is still running, with no token held: the client looks at the clock.
                await arena.wait_for(lambda: arena.http_requests["/health"] >= 1)
                second = await arena.start_round("de novo", max_tokens=3)
                await finished.wait()  # the client exits once the arena has its last frame
                await arena.wait_for(lambda: not arena.is_connected("ana-pc"))
    entry = first.entry("ana-pc")
    assert entry.tokens == []  # emptied by the restart, and nothing streamed again
    assert entry.completes == 1
    assert entry.recorded is not None
    assert entry.recorded.generated_content == "Era uma vez"
    assert second.entry("ana-pc").completes == 1


async def test_an_error_report_the_arena_has_is_not_sent_again_after_a_reconnect() -> None:
    """After a reconnect, an error report the client knows arrived is not written again."""
    async with PracticeArena(pin="4321") as arena:
        settings = settings_for(arena, rounds=2)
        container = client(settings, ScriptedRunner("Era", fail="boom"))
        link = container.transport()
        assert isinstance(link, ArenaLink)
        finished = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(play_then_set, settings, container, finished)
            with anyio.fail_after(5):
                await arena.wait_registered("ana-pc")
                await arena.wait_for(lambda: arena.http_requests["/rounds/current"] >= 1)
                first = await arena.start_round("x", max_tokens=5)
                await first.entry("ana-pc").done.wait()
                await link.flush()  # the client knows the error report arrived
                arena.drop("ana-pc")
                await arena.wait_for(lambda: len(arena.registrations) == 2)
                # The failed round is still running: the client looks at the clock to resume it.
                await arena.wait_for(lambda: arena.http_requests["/health"] >= 1)
                second = await arena.start_round("y", max_tokens=5)
                await finished.wait()  # the client exits once the arena has its last frame
                await arena.wait_for(lambda: not arena.is_connected("ana-pc"))
    assert len(first.entry("ana-pc").errors) == 1
    assert len(second.entry("ana-pc").errors) == 1


async def test_a_stopped_world_is_not_started_when_its_state_cannot_be_read() -> None:
    """When ``/world/state`` fails, the agent waits rather than join a world that may be stopped."""
    async with PracticeArena(pin="4321") as arena:
        arena.fail_http(429, "/world/state")  # the arena's rate limit
        await arena.start_world(hop_seconds=0.01, stay_seconds=0.05)
        arena.stop_world()
        settings = settings_for(arena, pulses=3)
        container = build(settings, view="silent", mode="agent")
        container.arena_client.add_kwargs(world_poll=0.01)
        view = watched(container)
        async with playing(settings, container) as tg:
            with anyio.fail_after(5):
                await view.wait_status("o mundo 2-D está parado; aguardando a organização")
                await arena.wait_for(lambda: arena.http_requests["/world/state"] >= 3)
            tg.cancel_scope.cancel()
    world = arena.world
    assert world is not None
    assert not world.running
    assert world.last_avatar("ana-pc") is None  # never joined

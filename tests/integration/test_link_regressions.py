"""The link keeps each answer whole and single through the arena's slow or failing HTTP side.

Regression tests from a review of the link layer, against the practice arena
over real sockets. The arena's trouble comes from its public test knobs
(``fail_http``, ``record_delay``, ``restart``, ``drop``); the client's record
check waits a short ``record_grace`` wherever the test is not about that grace.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import pytest
from dependency_injector import providers

from gambiarra.adapters.arena_http import ArenaHttp
from gambiarra.adapters.arena_link import ArenaLink
from gambiarra.app import play
from gambiarra.arena.server import PracticeArena
from gambiarra.config import Settings
from gambiarra.containers import Container, build
from gambiarra.events import RoundStarted
from gambiarra.service import FLUSH_TIMEOUT
from tests.fakes import RecordingView, ScriptedRunner
from tests.integration.conftest import fast_container, playing, settings_for
from tests.integration.proxy import faulty_proxy

pytestmark = pytest.mark.anyio

GRACE = 0.01  # the record check's grace where a test is not about it

T = TypeVar("T")


class WatchedView(RecordingView):
    """A recording view whose test can wait for what the participant sees."""

    def __init__(self) -> None:
        super().__init__()
        self._changed = anyio.Event()

    def round_started(self, event: RoundStarted) -> None:
        super().round_started(event)
        self._touch()

    def status(self, kind: str, line: str) -> None:
        super().status(kind, line)
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


class LookUps:
    """The client's look-ups on the arena's HTTP side: counted, and held back on request.

    A look-up counts as finished just before its caller resumes, so when none
    is pending the client has acted on every answer up to its next await.
    """

    def __init__(self) -> None:
        self.pending = 0
        self.finished = 0
        self._held: dict[str, anyio.Event] = {}
        self._changed = anyio.Event()

    def hold(self, name: str) -> anyio.Event:
        """Hold every look-up ``name`` (an ``ArenaHttp`` method) until the event is set."""
        return self._held.setdefault(name, anyio.Event())

    async def settled(self, finished: int) -> None:
        """Wait until ``finished`` look-ups are done and none is under way."""
        while self.finished < finished or self.pending:
            await self._changed.wait()

    async def watch(self, name: str, call: Awaitable[T]) -> T:
        """Run one look-up ``name``, counting it (and holding it back if asked)."""
        self.pending += 1
        try:
            if name in self._held:
                await self._held[name].wait()
            return await call
        finally:
            self.pending -= 1
            self.finished += 1
            self._changed.set()
            self._changed = anyio.Event()


class WatchedHttp(ArenaHttp):
    """The real HTTP side, with each look-up the link makes after a registration watched."""

    def __init__(self, *args: Any, look_ups: LookUps, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._look_ups = look_ups

    async def current_round(self) -> Any:
        return await self._look_ups.watch("current_round", super().current_round())

    async def server_time_ms(self) -> int | None:
        return await self._look_ups.watch("server_time_ms", super().server_time_ms())

    async def recorded_answer(self, round_id: str) -> Any:
        return await self._look_ups.watch("recorded_answer", super().recorded_answer(round_id))


def watch_look_ups(container: Container, settings: Settings) -> LookUps:
    look_ups = LookUps()
    container.arena_http.override(
        providers.Factory(WatchedHttp, settings.url, settings.participant_id, look_ups=look_ups)
    )
    return look_ups


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


async def test_a_round_looked_up_before_a_newer_challenge_is_not_joined_after_it() -> None:
    """A running round looked up before a newer challenge arrived is not joined after that one."""
    async with PracticeArena(pin="4321") as arena:
        old = await arena.start_round("velha", max_tokens=5, deadline_ms=60_000)
        settings = settings_for(arena)
        runner = ScriptedRunner("a", " b")
        container = client(settings, runner)
        clock = watch_look_ups(container, settings).hold("server_time_ms")
        view = watched(container)
        async with playing(settings, container) as tg:
            with anyio.fail_after(5):
                await arena.wait_registered("ana-pc")
                # The client saw "velha" running and now waits for the server clock.
                await arena.wait_for(lambda: arena.http_requests["/rounds/current"] >= 1)
                new = await arena.start_round("nova", max_tokens=5)
                await view.wait_for(lambda: bool(view.started))
                clock.set()
                # Round 2's frames wait for the look-ups to settle; a record check comes later.
                await view.wait_for(lambda: any("a arena registrou" in s for s in view.statuses))
            tg.cancel_scope.cancel()
    assert [r.prompt for r in runner.requests] == ["nova"]
    assert view.statuses[-1] == "✓ a arena registrou a rodada 2 (3 caracteres)"
    assert not [s for s in view.statuses if "já em andamento" in s]
    assert old.entry("ana-pc").tokens == []
    assert new.entry("ana-pc").completes == 1


async def test_a_recorded_round_is_not_streamed_again_after_an_arena_restart() -> None:
    """After a restart empties the arena's buffers, a round it recorded is not streamed again."""
    async with PracticeArena(pin="4321") as arena:
        settings = settings_for(arena)
        container = client(settings, ScriptedRunner("Era", " uma", " vez"))
        look_ups = watch_look_ups(container, settings)
        view = watched(container)
        async with playing(settings, container) as tg:
            with anyio.fail_after(5):
                await arena.wait_registered("ana-pc")
                await arena.wait_for(lambda: arena.http_requests["/rounds/current"] >= 1)
                first = await arena.start_round("Era uma vez", max_tokens=3)
                await view.wait_status("✓ a arena registrou a rodada 1 (11 caracteres)")
                before = look_ups.finished
                await arena.restart()
                # The round still runs, with none of our tokens held: the client looks at
                # the round, the clock and the record, then settles what to send.
                await look_ups.settled(before + 3)
                # Frames of the next round follow whatever that re-sent, on the same socket.
                second = await arena.start_round("de novo", max_tokens=3)
                await second.entry("ana-pc").done.wait()
            tg.cancel_scope.cancel()
    entry = first.entry("ana-pc")
    assert entry.tokens == []  # emptied by the restart, and nothing streamed again
    assert entry.completes == 1
    assert entry.recorded is not None
    assert entry.recorded.generated_content == "Era uma vez"
    assert second.entry("ana-pc").completes == 1


async def test_an_error_report_the_arena_has_is_not_sent_again_after_a_reconnect() -> None:
    """After a reconnect, an error report the client knows arrived is not written again."""
    async with PracticeArena(pin="4321") as arena:
        settings = settings_for(arena)
        container = client(settings, ScriptedRunner("Era", fail="boom"))
        look_ups = watch_look_ups(container, settings)
        link = container.transport()
        assert isinstance(link, ArenaLink)
        async with playing(settings, container) as tg:
            with anyio.fail_after(5):
                await arena.wait_registered("ana-pc")
                await arena.wait_for(lambda: arena.http_requests["/rounds/current"] >= 1)
                first = await arena.start_round("x", max_tokens=5)
                await first.entry("ana-pc").done.wait()
                await link.flush()  # the client knows the error report arrived
                before = look_ups.finished
                arena.drop("ana-pc")
                # The failed round still runs: the client looks at it and at the clock,
                # then settles what to send.
                await look_ups.settled(before + 2)
                # Frames of the next round follow whatever that re-sent, on the same socket.
                second = await arena.start_round("y", max_tokens=5)
                await second.entry("ana-pc").done.wait()
            tg.cancel_scope.cancel()
    assert len(first.entry("ana-pc").errors) == 1
    assert len(second.entry("ana-pc").errors) == 1


async def test_a_stopped_world_is_not_started_when_its_state_cannot_be_read() -> None:
    """When ``/world/state`` fails, the agent waits rather than join a world that may be stopped."""
    async with PracticeArena(pin="4321") as arena:
        arena.fail_http(429, "/world/state")  # the arena's rate limit
        world = await arena.start_world(hop_seconds=0.01, stay_seconds=0.05)
        arena.stop_world()
        settings = settings_for(arena, pulses=3)
        container = build(settings, view="silent", mode="agent")
        container.arena_client.add_kwargs(world_poll=0.01)
        view = watched(container)
        async with playing(settings, container) as tg:
            with anyio.fail_after(5):
                # Looking a third time means it waited twice; a join would restart the world.
                await arena.wait_for(
                    lambda: arena.http_requests["/world/state"] >= 3 or world.running
                )
            tg.cancel_scope.cancel()
    assert arena.world is world
    assert not world.running
    assert world.last_avatar("ana-pc") is None  # never joined
    assert "o mundo 2-D está parado; aguardando a organização" in view.statuses

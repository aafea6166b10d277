"""The accidents of an event night, against the practice arena (which behaves like the real one).

Late join, exact resume, an arena restart, two clients with one id, a busy
proxy, an arena that accepts and hangs up, and a ``complete`` that must be
re-sent only when the arena lacks it. Each test prints what the arena
recorded (``pytest -s``) for the closing note.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import anyio
import pytest
import structlog
from dependency_injector import providers

from gambiarra.adapters.mock import MockRunner
from gambiarra.app import play
from gambiarra.arena.records import Entry, RoundRecord
from gambiarra.arena.server import PracticeArena
from gambiarra.containers import Container
from gambiarra.domain.events import GenerationRequest, Outcome
from gambiarra.errors import ArenaRejected, ArenaUnreachable, ExitCode
from gambiarra.events import RoundEnded
from tests.fakes import RecordingView, ScriptedRunner
from tests.integration.conftest import fast_container, playing, settings_for
from tests.integration.proxy import faulty_proxy

pytestmark = pytest.mark.anyio


class WatchingView(RecordingView):
    """A recording view that can be waited on for a status line."""

    def __init__(self) -> None:
        super().__init__()
        self._changed = anyio.Event()

    def status(self, kind: str, line: str) -> None:
        super().status(kind, line)
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_for(self, pattern: str) -> str:
        while not (found := [s for s in self.statuses if re.search(pattern, s)]):
            await self._changed.wait()
        return found[0]


def watched(container: Container) -> WatchingView:
    view = WatchingView()
    container.view.override(providers.Object(view))
    return view


def full_text(record: RoundRecord, length: int) -> str:
    request = GenerationRequest(record.index, record.prompt, length, 0.8)
    return "".join(MockRunner(length=length).text(request))


def said(label: str, arena: PracticeArena, entry: Entry) -> None:
    complete = entry.complete["tokens"] if entry.complete else None
    print(
        f"\n[arena] {label}: {len(entry.tokens)} tokens held, complete says {complete}, "
        f"completes={entry.completes}, WS_SEQ_MISMATCH={arena.seq_mismatches}, "
        f"registrations={len(arena.registrations)}"
    )


async def test_late_join_plays_the_running_round_in_the_time_left() -> None:
    """Registering 2 s after the round started (server clock): the model is asked all the same."""
    async with PracticeArena(pin="4321") as arena:
        record = await arena.start_round(
            "Era uma vez", max_tokens=40, temperature=0.0, seed=7, deadline_ms=30_000
        )
        arena.clock_offset_ms += 2_000  # the server's clock: 2 s have passed since the start
        settings = settings_for(arena, rounds=1)
        runner = ScriptedRunner("Fita", " crepe", " e fé")
        container = fast_container(settings, runner=runner)
        view = watched(container)
        async with playing(settings, container):
            with anyio.fail_after(10):
                await record.entry("ana-pc").done.wait()
        entry = record.entry("ana-pc")
        said("late join 2 s after the start", arena, entry)
    assert entry.text == "Fita crepe e fé"
    assert entry.complete is not None
    assert entry.complete["tokens"] == 3
    asked = runner.requests[0]
    assert (asked.prompt, asked.max_tokens, asked.temperature, asked.seed) == (
        "Era uma vez",
        40,
        0.0,
        7,
    )
    assert any(
        re.fullmatch(r"entrando na rodada 1 já em andamento; faltam 2[78] s", s)
        for s in view.statuses
    )


async def test_a_round_whose_deadline_passed_is_not_joined() -> None:
    async with PracticeArena(pin="4321") as arena:
        record = await arena.start_round("Era uma vez", deadline_ms=30_000)
        arena.clock_offset_ms += 31_000
        settings = settings_for(arena)
        runner = ScriptedRunner("x")
        container = fast_container(settings, runner=runner)
        async with playing(settings, container) as tg:
            with anyio.fail_after(5):
                await arena.wait_registered("ana-pc")
                # the look-ups happen right after registering: wait until they are done
                await arena.wait_for(lambda: arena.http_requests["/health"] >= 1)
            next_round = await arena.start_round("De novo", max_tokens=5)
            with anyio.fail_after(5):
                await next_round.entry("ana-pc").done.wait()
            tg.cancel_scope.cancel()
    assert [r.prompt for r in runner.requests] == ["De novo"]
    assert record.entry("ana-pc").tokens == []


async def play_and_break(
    break_link: str, *, length: int = 300, after: int = 50
) -> tuple[PracticeArena, RoundRecord]:
    """A 300-token round at 400 tokens/s; after ``after`` tokens the link breaks."""
    async with PracticeArena(pin="4321") as arena:
        settings = settings_for(arena, rounds=1)
        runner = MockRunner("mock", tokens_per_second=400, length=length)
        async with playing(settings, fast_container(settings, runner=runner)):
            with anyio.fail_after(10):
                await arena.wait_registered("ana-pc")
                record = await arena.start_round("Era uma vez", max_tokens=length)
                entry = record.entry("ana-pc")
                await arena.wait_for(lambda: len(entry.tokens) >= after)
                if break_link == "reset":
                    arena.drop("ana-pc")
                else:
                    await arena.restart()
                await entry.done.wait()
        return arena, record


async def test_resume_after_a_reset_sends_no_token_twice() -> None:
    arena, record = await play_and_break("reset")
    entry = record.entry("ana-pc")
    said("reset after token 50 of 300", arena, entry)
    assert entry.text == full_text(record, 300)
    assert arena.seq_mismatches == 0
    assert arena.warnings == []
    assert entry.completes == 1
    assert len(arena.registrations) == 2


async def test_an_arena_restart_mid_round_ends_with_the_whole_answer() -> None:
    """The restarted arena holds 0 tokens: the client sends the round again from seq 0."""
    arena, record = await play_and_break("restart")
    entry = record.entry("ana-pc")
    said("arena restarted after token 50 of 300", arena, entry)
    assert arena.restarts == 1
    assert entry.text == full_text(record, 300)
    assert entry.complete is not None
    assert entry.complete["tokens"] == 300
    assert entry.completes == 1
    assert arena.seq_mismatches == 0


async def test_two_clients_with_one_id_one_stops_with_exit_3() -> None:
    async with PracticeArena(pin="4321") as arena:
        settings = settings_for(arena)
        rejected: list[ArenaRejected] = []
        done = anyio.Event()

        async def client() -> None:
            try:
                await play(settings, fast_container(settings, runner=ScriptedRunner("x")))
            except ArenaRejected as exc:
                rejected.append(exc)
                done.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(client)
            with anyio.fail_after(10):
                await arena.wait_registered("ana-pc")
                tg.start_soon(client)
                await done.wait()
                # the survivor is (again) the one connected
                await arena.wait_registered("ana-pc")
            registrations = len(arena.registrations)
            tg.cancel_scope.cancel()
        print(f"\n[arena] two clients as ana-pc: {registrations} registrations, 1 stopped")
    assert len(rejected) == 1
    assert rejected[0].exit_code == ExitCode.REJECTED
    assert str(rejected[0]) == (
        "outro cliente está jogando como 'ana-pc': "
        "escolha outro --participant-id ou pare o outro cliente"
    )
    assert registrations <= 5


async def test_a_429_with_retry_after_on_a_reconnect_is_retried_then_plays() -> None:
    async with PracticeArena(pin="4321") as arena:
        settings = settings_for(arena, rounds=1)
        container = fast_container(settings, runner=ScriptedRunner("ok"))
        async with playing(settings, container):
            with anyio.fail_after(10):
                await arena.wait_registered("ana-pc")
                arena.refuse_upgrades(429, times=2, retry_after=0.3)
                arena.drop("ana-pc")
                await arena.wait_for(lambda: len(arena.registrations) == 2)
                record = await arena.start_round("segue", max_tokens=5)
                await record.entry("ana-pc").done.wait()
        attempts = arena.upgrade_attempts
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    assert len(attempts) == 4  # first link, two refused, the one that played
    assert gaps[1] >= 0.3
    assert gaps[2] >= 0.3  # Retry-After honoured, not the 10 ms test back-off
    assert record.entry("ana-pc").text == "ok"


async def test_a_4xx_on_the_very_first_connection_is_fatal() -> None:
    async with PracticeArena(pin="4321") as arena:
        arena.refuse_upgrades(404, times=1)
        settings = settings_for(arena)
        with anyio.fail_after(5), pytest.raises(ArenaUnreachable) as raised:
            await play(settings, fast_container(settings))
    assert "respondeu HTTP 404" in str(raised.value)
    assert len(arena.upgrade_attempts) == 1


def growing() -> Iterator[float]:
    return (0.05 * 2**n for n in itertools.count())


async def test_an_arena_that_accepts_then_closes_gets_a_growing_back_off_and_a_limit() -> None:
    async with PracticeArena(pin="4321") as arena:
        arena.close_after_register(times=100)
        settings = settings_for(arena, max_reconnects=3)
        container = fast_container(settings)
        container.transport.add_kwargs(delays=growing)
        with anyio.fail_after(10), pytest.raises(ArenaUnreachable) as raised:
            await play(settings, container)
    attempts = arena.upgrade_attempts
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    print(f"\n[arena] accept-then-close: {len(arena.registrations)} registrations, gaps {gaps}")
    assert len(arena.registrations) == 4  # the first link and three reconnects
    assert [gap >= wait for gap, wait in zip(gaps, (0.05, 0.1, 0.2), strict=True)] == [True] * 3
    assert "desisti depois de 3 nova(s) tentativa(s) (--max-reconnects 3)" in str(raised.value)


async def test_the_arena_record_is_checked_once_after_complete() -> None:
    async with PracticeArena(pin="4321") as arena:
        settings = settings_for(arena)
        container = fast_container(settings, runner=ScriptedRunner("Era", " uma", " vez"))
        view = watched(container)
        async with playing(settings, container) as tg:
            with anyio.fail_after(10):
                await arena.wait_registered("ana-pc")
                # its look-ups after registering are answered: no round yet
                await arena.wait_for(lambda: arena.http_requests["/rounds/current"] == 1)
                record = await arena.start_round("Era uma vez", max_tokens=3)
                await record.entry("ana-pc").done.wait()
                line = await view.wait_for("a arena registrou a rodada 1")
            tg.cancel_scope.cancel()
    assert line == "✓ a arena registrou a rodada 1 (11 caracteres)"
    assert arena.http_requests[f"/rounds/{record.id}/responses"] == 1  # one look-up, no polling
    assert record.entry("ana-pc").completes == 1


async def test_complete_is_not_resent_when_the_arena_already_has_it() -> None:
    """The link dies right after the arena recorded our complete: no second complete."""
    dropped: list[str] = []

    def drop_after_complete(record: RoundRecord, entry: Entry) -> None:
        if not dropped:
            dropped.append(entry.participant_id)
            arena.drop(entry.participant_id)

    async with PracticeArena(pin="4321", on_done=drop_after_complete) as arena:
        settings = settings_for(arena, rounds=2)
        container = fast_container(settings, runner=ScriptedRunner("Era", " uma", " vez"))
        container.transport.add_kwargs(ack_interval=60.0)  # the pong never comes in time
        async with playing(settings, container):
            with anyio.fail_after(10):
                await arena.wait_registered("ana-pc")
                record = await arena.start_round("Era uma vez", max_tokens=3)
                await arena.wait_for(lambda: len(arena.registrations) == 2)
                second = await arena.start_round("de novo", max_tokens=3)
                await second.entry("ana-pc").done.wait()
        entry = record.entry("ana-pc")
        said("link lost right after complete", arena, entry)
    assert entry.completes == 1
    assert entry.text == "Era uma vez"
    assert second.entry("ana-pc").completes == 1
    assert arena.seq_mismatches == 0


async def test_a_complete_the_arena_never_read_is_sent_again() -> None:
    """The link is cut after the last token, before the complete passes: it is re-sent."""
    async with PracticeArena(pin="4321") as arena, faulty_proxy(arena.url) as proxy:
        proxy.cut_after_tokens = {3}
        settings = settings_for(arena, url=proxy.url(), rounds=1)
        container = fast_container(settings, runner=ScriptedRunner("Era", " uma", " vez"))
        async with playing(settings, container):
            with anyio.fail_after(10):
                await arena.wait_registered("ana-pc")
                record = await arena.start_round("Era uma vez", max_tokens=3)
                await record.entry("ana-pc").done.wait()
        entry = record.entry("ana-pc")
        said("cut between the last token and complete", arena, entry)
    assert proxy.cuts == 1
    assert entry.text == "Era uma vez"
    assert entry.completes == 1
    assert arena.seq_mismatches == 0


class EndWatchingView(WatchingView):
    """Also lets a test wait for the end of a round."""

    def __init__(self) -> None:
        super().__init__()
        self.round_over = anyio.Event()

    def round_ended(self, ended: RoundEnded) -> None:
        super().round_ended(ended)
        self.round_over.set()


async def test_a_full_outbox_ends_the_round_with_what_can_still_arrive() -> None:
    """The arena is down for long: the round stops, one log line, an honest complete."""
    from gambiarra.domain.outbox import Outbox

    async with PracticeArena(pin="4321") as arena:
        settings = settings_for(arena, rounds=1)
        runner = MockRunner("mock", tokens_per_second=400, length=400)
        container = fast_container(settings, runner=runner)
        container.transport.add_kwargs(outbox=Outbox(limit=10))
        view = EndWatchingView()
        container.view.override(providers.Object(view))
        with structlog.testing.capture_logs() as logs:
            async with playing(settings, container), anyio.create_task_group() as outage:
                with anyio.fail_after(10):
                    await arena.wait_registered("ana-pc")
                    record = await arena.start_round("Era uma vez", max_tokens=400)
                    entry = record.entry("ana-pc")
                    await arena.wait_for(lambda: len(entry.tokens) >= 5)
                    outage.start_soon(arena.restart, 60.0)  # down until come_back()
                    await view.round_over.wait()
                    arena.come_back()
                    await entry.done.wait()
        said("outbox full while the arena was down", arena, entry)
    (ended,) = view.ended
    assert ended.outcome is Outcome.UNDELIVERED
    assert entry.complete is not None
    assert entry.complete["tokens"] == len(entry.tokens) == ended.tokens
    assert entry.text == full_text(record, 400)[: len(entry.text)]
    assert arena.seq_mismatches == 0
    assert [e["event"] for e in logs].count("outbox_full") == 1

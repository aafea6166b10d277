"""The public API: a session played from Python, its typed events, in order."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

import gambiarra
from gambiarra import (
    ArenaRejected,
    CheckingModel,
    Connected,
    Connecting,
    Outcome,
    RoundEnded,
    RoundStarted,
    RunnerRequest,
    SessionEnded,
    SessionEvent,
    Tokens,
)
from gambiarra.adapters.mock import MockRunner
from gambiarra.arena.server import PracticeArena
from gambiarra.domain.events import GenerationRequest
from tests.plugin_samples import eco, expected_echo

pytestmark = pytest.mark.anyio

PROMPT = "Conte até cinco."


async def collect(session: gambiarra.Session, events: list[SessionEvent]) -> None:
    async with session:
        async for event in session:
            events.append(event)


def kinds(events: list[SessionEvent]) -> list[str]:
    """The events' kinds, runs of answer text counted as one, and the record check left
    out (the arena's confirmation may come before or after the session stops)."""
    shown: list[str] = []
    for event in events:
        kind = type(event).__name__
        if kind == "AnswerRecorded" or (kind == "Tokens" and shown[-1:] == ["Tokens"]):
            continue
        shown.append(kind)
    return shown


async def test_the_events_of_a_practice_round_arrive_in_order() -> None:
    settings = gambiarra.make_settings("practice", runner="mock", mock_tps="0")
    events: list[SessionEvent] = []
    with anyio.fail_after(10):
        async with gambiarra.Session(settings, practice=True, prompt=PROMPT) as session:
            async for event in session:
                events.append(event)
    assert kinds(events) == [
        "CheckingModel", "Connecting", "Connected", "RoundStarted", "Tokens", "RoundEnded",
        "SessionEnded",
    ]  # fmt: skip
    assert events[0] == CheckingModel(model="mock", runner="mock")
    assert isinstance(events[1], Connecting)
    assert events[1].nickname == "Você"
    assert events[2] == Connected(first=True, session_id=events[2].session_id)
    started = events[3]
    assert isinstance(started, RoundStarted)
    assert (started.round, started.prompt, started.max_tokens) == (1, PROMPT, 400)
    pieces = MockRunner().text(GenerationRequest(1, PROMPT, 400, 0.8))
    text = "".join(e.text for e in events if isinstance(e, Tokens))
    assert text == "".join(pieces)
    assert sum(e.count for e in events if isinstance(e, Tokens)) == len(pieces)
    assert all(e.round == 1 for e in events if isinstance(e, Tokens))
    (ended,) = [e for e in events if isinstance(e, RoundEnded)]
    assert (ended.outcome, ended.tokens) == (Outcome.FINISHED, len(pieces))
    assert events[-1] == SessionEnded(exit_code=0)


async def test_play_with_a_listener_and_a_runner_function() -> None:
    events: list[SessionEvent] = []
    with anyio.fail_after(10):  # the client stops by itself after its one round
        async with PracticeArena(pin="4321") as arena:
            settings = gambiarra.make_settings(
                "play", url=arena.url, pin="4321", participant_id="api", nickname="API",
                model="eco-2", rounds=1, no_device_info=True,
            )  # fmt: skip
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: gambiarra.play(settings, runner=eco, listener=events.append))
                await arena.wait_registered("api")
                record = await arena.start_round("Diga oi", max_tokens=9)
                await record.entry("api").done.wait()
    assert record.entry("api").text == expected_echo("eco-2", "Diga oi")
    assert arena.registrations[0]["runner"] == "eco"  # named after the function
    assert events[0] == CheckingModel(model="eco-2", runner="eco")
    assert [e.text for e in events if isinstance(e, gambiarra.Reasoning)] == ["ecoando"]
    assert events[-1] == SessionEnded(exit_code=0)


async def test_a_refused_session_ends_with_its_error_after_its_last_event() -> None:
    async with PracticeArena(pin="4321") as arena:
        settings = gambiarra.make_settings(
            "play", url=arena.url, pin="0000", participant_id="api", nickname="API",
            runner="mock", no_device_info=True,
        )  # fmt: skip
        events: list[SessionEvent] = []
        with anyio.fail_after(10), pytest.raises(ArenaRejected, match="PIN"):
            await collect(gambiarra.Session(settings), events)
    assert isinstance(events[-1], SessionEnded)
    assert events[-1].exit_code == 3
    assert events[-1].error is not None
    assert "PIN" in events[-1].error


async def test_leaving_the_block_stops_a_session_still_playing() -> None:
    """Like Ctrl-C: the model stops, the link closes, nothing is left running."""
    stopped = anyio.Event()

    async def endless(request: RunnerRequest) -> AsyncIterator[str]:
        try:
            while True:
                yield "x"
                await anyio.sleep(0.01)
        finally:
            stopped.set()

    async with PracticeArena(pin="4321") as arena:
        settings = gambiarra.make_settings(
            "play", url=arena.url, pin="4321", participant_id="api", nickname="API",
            no_device_info=True,
        )  # fmt: skip
        with anyio.fail_after(10):
            async with gambiarra.Session(settings, runner=endless) as session:
                async for event in session:
                    if isinstance(event, Connected):
                        await arena.start_round("Sem fim", max_tokens=-1)
                    if isinstance(event, Tokens):
                        break
            await stopped.wait()
            await arena.wait_for(lambda: not arena.is_connected("api"))


async def test_a_listener_that_raises_ends_the_session_with_its_error() -> None:
    def listener(event: SessionEvent) -> None:
        if isinstance(event, Connected):
            raise LookupError("o painel quebrou")

    async with PracticeArena(pin="4321") as arena:
        settings = gambiarra.make_settings(
            "play", url=arena.url, pin="4321", participant_id="api", nickname="API",
            runner="mock", no_device_info=True,
        )  # fmt: skip
        with anyio.fail_after(10), pytest.raises(LookupError, match="o painel quebrou"):
            await gambiarra.play(settings, listener=listener)


async def test_a_world_rehearsal_yields_its_pulses_and_the_tally() -> None:
    settings = gambiarra.make_settings("practice", runner="mock", mock_tps="0", pulses=3)
    events: list[SessionEvent] = []
    with anyio.fail_after(20):
        await collect(gambiarra.Session(settings, practice=True, world=True), events)
    pulses = [e for e in events if isinstance(e, gambiarra.Pulse)]
    assert [p.pulse for p in pulses] == sorted(p.pulse for p in pulses)
    assert len(pulses) == 3
    (tally,) = [e for e in events if isinstance(e, gambiarra.WorldSummary)]
    assert tally.pulses == 3
    assert isinstance(events[2], Connected)
    assert events[2].joining_world
    assert events[-1] == SessionEnded(exit_code=0)

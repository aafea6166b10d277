"""Runner plugins under the client's limits: max_tokens, the deadline, a new challenge.

Played through the public API against the practice arena; each plugin is an
async generator function that notes when it was closed.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest

import gambiarra
from gambiarra import (
    Outcome,
    RoundEnded,
    RunnerFunction,
    RunnerRequest,
    RunnerUnavailable,
    SessionEnded,
    SessionEvent,
)
from gambiarra.arena.records import RoundRecord
from gambiarra.arena.server import PracticeArena
from tests.plugin_samples import sem_fim

pytestmark = pytest.mark.anyio


class Closings:
    """Which rounds' generators were closed (their ``finally`` ran)."""

    def __init__(self) -> None:
        self.rounds: list[int] = []
        self.changed = anyio.Event()

    def closed(self, round_: int) -> None:
        self.rounds.append(round_)
        self.changed.set()
        self.changed = anyio.Event()

    async def wait_for(self, *rounds: int) -> None:
        while self.rounds != list(rounds):
            await self.changed.wait()


async def with_client(
    runner: RunnerFunction,
    body: Callable[[PracticeArena], Awaitable[None]],
    events: list[SessionEvent],
    **options: Any,
) -> None:
    """Play ``runner`` against a practice arena while ``body`` runs the rounds."""
    with anyio.fail_after(10):
        async with PracticeArena(pin="4321") as arena:
            settings = gambiarra.make_settings(
                "play", url=arena.url, pin="4321", participant_id="plug", nickname="Plug",
                no_device_info=True, **options,
            )  # fmt: skip
            async with anyio.create_task_group() as tg:
                tg.start_soon(
                    lambda: gambiarra.play(settings, runner=runner, listener=events.append)
                )
                await arena.wait_registered("plug")
                await body(arena)
                tg.cancel_scope.cancel()


def outcomes(events: list[SessionEvent]) -> list[tuple[int, Outcome]]:
    return [(e.round, e.outcome) for e in events if isinstance(e, RoundEnded)]


async def test_max_tokens_closes_a_plugin_that_never_stops() -> None:
    record: list[RoundRecord] = []

    async def body(arena: PracticeArena) -> None:
        record.append(await arena.start_round("Fale", max_tokens=5))
        await record[0].entry("plug").done.wait()

    events: list[SessionEvent] = []
    await with_client(sem_fim, body, events)
    entry = record[0].entry("plug")
    assert entry.tokens == ["x"] * 5
    assert entry.complete is not None
    assert entry.complete["tokens"] == 5
    assert outcomes(events) == [(1, Outcome.FINISHED)]


async def test_the_deadline_closes_a_plugin_that_stalls() -> None:
    closings = Closings()

    async def stalls(request: RunnerRequest) -> AsyncIterator[str]:
        try:
            yield "a"
            yield "b"
            await anyio.sleep_forever()
            yield "never"
        finally:
            closings.closed(request.round)

    async def body(arena: PracticeArena) -> None:
        record = await arena.start_round("Fale", deadline_ms=300)
        await record.entry("plug").done.wait()
        await closings.wait_for(1)
        assert record.entry("plug").text == "ab"

    events: list[SessionEvent] = []
    await with_client(stalls, body, events)
    assert outcomes(events) == [(1, Outcome.DEADLINE)]


async def test_a_new_challenge_closes_the_plugin_of_the_round_it_supersedes() -> None:
    closings = Closings()

    async def first_round_stalls(request: RunnerRequest) -> AsyncIterator[str]:
        try:
            yield f"r{request.round}"
            if request.round == 1:
                await anyio.sleep_forever()
        finally:
            closings.closed(request.round)

    async def body(arena: PracticeArena) -> None:
        first = await arena.start_round("Um")
        await arena.wait_for(lambda: first.entry("plug").tokens == ["r1"])
        second = await arena.start_round("Dois")
        await second.entry("plug").done.wait()
        await closings.wait_for(1, 2)
        assert (first.entry("plug").text, second.entry("plug").text) == ("r1", "r2")

    events: list[SessionEvent] = []
    await with_client(first_round_stalls, body, events)
    assert outcomes(events) == [(1, Outcome.SUPERSEDED), (2, Outcome.FINISHED)]


async def test_a_plugin_gets_the_challenges_own_values() -> None:
    asked: list[RunnerRequest] = []

    async def notes(request: RunnerRequest) -> AsyncIterator[str]:
        asked.append(request)
        yield "ok"

    async def body(arena: PracticeArena) -> None:
        record = await arena.start_round("Valores", max_tokens=7, temperature=0.0, seed=11)
        await record.entry("plug").done.wait()

    started = time.monotonic()
    await with_client(notes, body, [], model="meu-modelo", system="Seja breve.")
    (request,) = asked
    assert (request.round, request.prompt, request.max_tokens) == (1, "Valores", 7)
    assert (request.temperature, request.seed) == (0.0, 11)  # temperature 0 is a real value
    assert (request.model, request.system) == ("meu-modelo", "Seja breve.")
    assert request.deadline_at is not None
    assert started < request.deadline_at <= time.monotonic() + 90.0  # the arena's default
    left = request.seconds_left()
    assert left is not None
    assert 0 < left <= 90.0


async def test_a_plugin_that_yields_something_else_fails_its_round_with_a_reason() -> None:
    async def numbers(request: RunnerRequest) -> AsyncIterator[Any]:
        yield "um"
        yield 2

    record: list[RoundRecord] = []

    async def body(arena: PracticeArena) -> None:
        record.append(await arena.start_round("Conte"))
        await record[0].entry("plug").done.wait()

    events: list[SessionEvent] = []
    await with_client(numbers, body, events)
    (error,) = record[0].entry("plug").errors
    assert (
        error["message"]
        == "o runner numbers produziu int: produza str (ou TokenChunk) a cada pedaço"
    )
    assert outcomes(events) == [(1, Outcome.FAILED)]


async def test_a_plugin_that_cannot_be_imported_stops_the_start() -> None:
    settings = gambiarra.make_settings(
        "play", pin="1", participant_id="plug", nickname="Plug", runner="nada.disso:runner"
    )
    events: list[SessionEvent] = []
    with anyio.fail_after(10), pytest.raises(RunnerUnavailable, match=r"nada\.disso:runner"):
        await gambiarra.play(settings, listener=events.append)
    (ended,) = events  # nothing else happened: no link was opened
    assert isinstance(ended, SessionEnded)
    assert ended.exit_code == 4
    assert ended.error is not None
    assert ended.error.startswith("não consegui carregar o runner nada.disso:runner")

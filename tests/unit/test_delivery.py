"""Delivery: what ``flush`` waits for, and which confirmed frames start a record check.

No sockets: a stand-in connection keeps what is written and answers every
ping at once. ``wait_all_tasks_blocked`` lets every task run as far as it can,
so nothing here is timed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager

import anyio
import pytest
from websockets.protocol import State

from gambiarra.adapters.delivery import Delivery
from gambiarra.domain.protocol import ClientMessage, Complete, ErrorReport, ModelInfo, Token

pytestmark = pytest.mark.anyio

TOKEN = Token(round=1, participant_id="ana-pc", seq=0, content="Era")
COMPLETE = Complete(
    round=1,
    participant_id="ana-pc",
    tokens=1,
    duration_ms=5,
    model_info=ModelInfo(name="fake-1", runner="fake"),
)
ERROR = ErrorReport(round=1, participant_id="ana-pc", code="RUNNER_ERROR", message="boom")


class AnsweringSocket:
    """Stands in for a websockets connection whose peer reads everything and pongs at once.

    It is its own protocol and transport: what ``send_frames`` frames is
    kept as is, and each write is kept whole.
    """

    state = State.OPEN

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.protocol = self.transport = self
        self._framed: list[bytes] = []

    def get_write_buffer_size(self) -> int:
        return 0

    @asynccontextmanager
    async def send_context(self) -> AsyncIterator[None]:
        yield

    def send_text(self, frame: bytes) -> None:
        self._framed.append(frame)

    def data_to_send(self) -> list[bytes]:
        framed, self._framed = self._framed, []
        return framed

    def write(self, data: bytes) -> None:
        self.written.append(data)

    async def ping(self) -> Awaitable[float]:
        return _pong()


async def _pong() -> float:
    return 0.0


async def confirmed_finals(*messages: ClientMessage) -> list[int]:
    """Send the messages on a served link, flush; return the rounds handed over for a check."""
    finals: list[int] = []
    delivery = Delivery(
        ack_interval=3600.0, on_final_confirmed=lambda round, text: finals.append(round)
    )
    for message in messages:
        delivery.send(message)
    async with anyio.create_task_group() as tg:
        tg.start_soon(delivery.serve, AnsweringSocket())  # type: ignore[arg-type]
        await anyio.wait_all_tasks_blocked()  # every frame written
        await delivery.flush()  # one ping, answered at once
        tg.cancel_scope.cancel()
    return finals


async def flushed_after(change: str) -> bool:
    """Whether a ``flush`` waiting on an unconfirmed round returns after ``change`` empties it."""
    delivery = Delivery()
    delivery.send(TOKEN)
    delivery.send(COMPLETE)
    flushed = anyio.Event()

    async def flush() -> None:
        await delivery.flush()
        flushed.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(flush)
        await anyio.wait_all_tasks_blocked()  # flush waits: no link serves, nothing confirms
        assert not flushed.is_set()
        if change == "drop_round":
            delivery.drop_round(1)
        else:
            delivery.forget()
        assert len(delivery.outbox) == 0
        await anyio.wait_all_tasks_blocked()
        returned = flushed.is_set()
        tg.cancel_scope.cancel()
    return returned


async def test_a_confirmed_complete_starts_a_record_check() -> None:
    """Once a complete is confirmed, its round is handed over for the record check."""
    assert await confirmed_finals(TOKEN, COMPLETE) == [1]


async def test_a_confirmed_error_report_starts_no_record_check() -> None:
    """An error report is never recorded by the arena, so its confirmation starts no check."""
    assert await confirmed_finals(TOKEN, ERROR) == []


async def test_flush_returns_when_the_arena_proves_to_have_recorded_the_round() -> None:
    """A waiting flush returns once ``drop_round`` leaves nothing unconfirmed."""
    assert await flushed_after("drop_round")


async def test_flush_returns_when_the_session_ends() -> None:
    """A waiting flush returns once ``forget`` (the session ended) leaves nothing unconfirmed."""
    assert await flushed_after("forget")


async def test_completes_of_several_rounds_in_flight_are_each_checked() -> None:
    """A fast model ends round 2 before round 1's complete is confirmed: both are checked."""
    from gambiarra.domain.protocol import Complete, ModelInfo, Token

    info = ModelInfo(name="m", runner="r")
    messages: list[ClientMessage] = []
    for round in (1, 2):
        messages.append(Token(round=round, participant_id="p", seq=0, content=f"r{round}"))
        messages.append(
            Complete(round=round, participant_id="p", tokens=1, duration_ms=1, model_info=info)
        )
    assert await confirmed_finals(*messages) == [1, 2]

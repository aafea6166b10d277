"""Fakes that satisfy the ports and record what happened (no mocks)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass

import anyio

from gambiarra.adapters.console import EventLines
from gambiarra.domain.events import GenerationRequest
from gambiarra.domain.protocol import ClientMessage
from gambiarra.errors import RunnerFailed
from gambiarra.events import (
    Pulse,
    RoundEnded,
    RoundStarted,
    SessionEvent,
    WorldSummary,
    tag_of,
)
from gambiarra.ports import Incoming, ModelDescription, TokenChunk


@dataclass(frozen=True)
class AfterSent:
    """A pause in a FakeTransport script: until `count` messages of `kind` were sent."""

    kind: type
    count: int = 1


class FakeTransport:
    """Delivers scripted arena messages and link changes; records everything sent.

    A script item ``AfterSent(Complete)`` holds the next items back until the
    client has sent that, like an arena whose organiser waits for the round
    to end. After the script it idles until cancelled.
    """

    def __init__(self, *incoming: Incoming | AfterSent) -> None:
        self.incoming = list(incoming)
        self.sent: list[ClientMessage] = []
        self.flushed = 0
        self._sent_more = anyio.Event()

    def send(self, message: ClientMessage) -> bool:
        self.sent.append(message)
        self._sent_more.set()
        self._sent_more = anyio.Event()
        return True

    async def flush(self) -> None:
        self.flushed += 1

    async def world_running(self) -> bool | None:
        return None  # like an arena without the HTTP side

    async def run(self, receive: Callable[[Incoming], Awaitable[None]]) -> None:
        for item in self.incoming:
            if isinstance(item, AfterSent):
                while sum(isinstance(m, item.kind) for m in self.sent) < item.count:
                    await self._sent_more.wait()
            else:
                await receive(item)
        await anyio.sleep_forever()


class ScriptedRunner:
    """Yields the given pieces, then optionally fails with a message."""

    kind = "fake"

    def __init__(
        self, *pieces: str | TokenChunk, fail: str | None = None, model: str = "fake-1"
    ) -> None:
        self.pieces = [p if isinstance(p, TokenChunk) else TokenChunk(p) for p in pieces]
        self.fail = fail
        self.model = model
        self.requests: list[GenerationRequest] = []

    async def check(self) -> None:
        pass

    async def models(self) -> list[ModelDescription]:
        return [ModelDescription(self.model)]

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[TokenChunk, None]:
        self.requests.append(request)
        for piece in self.pieces:
            await anyio.lowlevel.checkpoint()
            yield piece
        if self.fail is not None:
            raise RunnerFailed(self.fail)


class RecordingView:
    """Remembers what the participant would have seen.

    Every event lands in ``events``; a state change also in ``statuses`` as
    the console would print it (so tests read the participant's own words).
    Subclasses hook ``round_started``, ``round_ended`` or ``status``.
    """

    tick_interval: float | None = None

    def __init__(self) -> None:
        self.events: list[SessionEvent] = []
        self.started: list[RoundStarted] = []
        self.text: list[str] = []
        self.thoughts: list[str] = []
        self.ended: list[RoundEnded] = []
        self.statuses: list[str] = []
        self.pulses: list[Pulse] = []
        self.summaries: list[WorldSummary] = []
        self.closed = 0
        self._lines = EventLines()

    async def run(self) -> None:
        pass

    def close(self) -> None:
        self.closed += 1

    def token(self, text: str, count: int = 1) -> None:
        self.text.append(text)

    def reasoning(self, text: str) -> None:
        self.thoughts.append(text)

    def show(self, event: SessionEvent) -> None:
        self.events.append(event)
        line = self._lines.line(event)
        if isinstance(event, RoundStarted):
            self.round_started(event)
        elif isinstance(event, RoundEnded):
            self.round_ended(event)
        elif isinstance(event, Pulse):
            self.pulses.append(event)
        elif isinstance(event, WorldSummary):
            self.summaries.append(event)
        elif line is not None:
            self.status(tag_of(event), line)

    def round_started(self, event: RoundStarted) -> None:
        self.started.append(event)

    def round_ended(self, event: RoundEnded) -> None:
        self.ended.append(event)

    def status(self, kind: str, line: str) -> None:
        self.statuses.append(line)

    def tick(self) -> None:
        pass

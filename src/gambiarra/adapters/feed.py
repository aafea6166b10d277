"""EventFeed: the session's events queued for a program, off the token path.

A view like the screen's: telling it costs an append (answer text joins the
text still waiting); a listener is called from the feed's own task, an
iterator reads at its own pace. So a slow listener or consumer never holds a
token back from the arena.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

import anyio

from gambiarra.events import Reasoning, RoundStarted, SessionEvent, Tokens

__all__ = ["EventFeed", "Listener"]

Listener: TypeAlias = Callable[[SessionEvent], object]
"""Called with every event, in order, from a task of its own (never on the token path).

It should return quickly; what it raises ends the session with that error.
"""


@dataclass(slots=True)
class _Text:
    """Answer or reasoning text not handed over yet; later pieces join it."""

    reasoning: bool
    round: int
    pieces: list[str]
    count: int

    def event(self) -> Tokens | Reasoning:
        text = "".join(self.pieces)
        if self.reasoning:
            return Reasoning(round=self.round, text=text)
        return Tokens(round=self.round, text=text, count=self.count)


class EventFeed:
    """A view that queues the session's events for a listener or an iterator.

    Telling it costs an append (answer text joins the text still waiting);
    with a listener, ``run()`` hands the events over in a task of its own.
    Nothing is dropped: iterate promptly (a stuck consumer holds the state
    lines of the session, a few per round, and the text not yet read).
    """

    tick_interval: float | None = None

    def __init__(self, listener: Listener | None = None) -> None:
        self._listener = listener
        self._pending: deque[SessionEvent | _Text] = deque()
        self._round = 0
        self._wake = anyio.Event()
        self._closed = False
        self._finished = False

    # ------------------------------------------------------------ the view

    def token(self, text: str, count: int = 1) -> None:
        self._put_text(text, False, count)

    def reasoning(self, text: str) -> None:
        self._put_text(text, True, 1)

    def show(self, event: SessionEvent) -> None:
        if isinstance(event, RoundStarted):
            self._round = event.round
        self._pending.append(event)
        self._woken()

    def tick(self) -> None:
        pass

    async def run(self) -> None:
        """Hand events to the listener until cancelled (no listener: returns)."""
        if self._listener is None:
            return
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            self._deliver()

    def close(self) -> None:
        """Hand over what is left; from now on each event is handed over at once."""
        self._closed = True
        self._deliver()

    # ------------------------------------------------------------ the iterator

    def finish(self) -> None:
        """No more events: iteration ends once the queue is empty."""
        self._finished = True
        self._wake.set()

    def __aiter__(self) -> EventFeed:
        return self

    async def __anext__(self) -> SessionEvent:
        while not self._pending:
            if self._finished:
                raise StopAsyncIteration
            await self._wake.wait()
            self._wake = anyio.Event()
        return self._event(self._pending.popleft())

    # ------------------------------------------------------------ internals

    def _put_text(self, text: str, reasoning: bool, count: int) -> None:
        last = self._pending[-1] if self._pending else None
        if isinstance(last, _Text) and last.reasoning is reasoning:
            last.pieces.append(text)
            last.count += count
            return  # the wake-up for it is already pending
        self._pending.append(_Text(reasoning, self._round, [text], count))
        self._woken()

    def _woken(self) -> None:
        if self._closed:
            self._deliver()
        else:
            self._wake.set()

    def _deliver(self) -> None:
        if self._listener is None:
            self._wake.set()  # an iterator reads them
            return
        while self._pending:
            self._listener(self._event(self._pending.popleft()))

    @staticmethod
    def _event(item: SessionEvent | _Text) -> SessionEvent:
        return item.event() if isinstance(item, _Text) else item

"""JsonLinesView: one JSON object per line, for scripts and dashboards (``--json``).

Each line is a session event itself (``gambiarra.events``), its kind in the
``event`` field: decode one with ``msgspec.json.decode(line,
type=SessionEvent)``. Answer text is batched: the pieces produced since the
last line become one ``tokens`` event (with their ``count``), written every
``interval`` and before any other event, so lines keep the session's order.
"""

from __future__ import annotations

import sys
from typing import TextIO

import msgspec

from gambiarra.events import Reasoning, RoundStarted, SessionEvent, Tokens

__all__ = ["JsonLinesView"]

_encoder = msgspec.json.Encoder()


class JsonLinesView:
    def __init__(self, out: TextIO | None = None, interval: float = 0.1) -> None:
        self._out = out if out is not None else sys.stdout
        self.tick_interval: float | None = interval
        self._round = 0
        self._tokens: list[str] = []
        self._count = 0
        self._reasoning: list[str] = []

    async def run(self) -> None:
        pass  # writes inline; BufferedView takes it off the event loop

    def close(self) -> None:
        """Write the text still batched (a Ctrl-C mid-round keeps what was produced)."""
        self.tick()

    def token(self, text: str, count: int = 1) -> None:
        self._tokens.append(text)
        self._count += count

    def reasoning(self, text: str) -> None:
        self._reasoning.append(text)

    def show(self, event: SessionEvent) -> None:
        self.tick()  # what was produced before it comes first
        if isinstance(event, RoundStarted):
            self._round = event.round
        self._emit(event)

    def tick(self) -> None:
        if self._reasoning:
            text = "".join(self._reasoning)
            self._reasoning.clear()
            self._emit(Reasoning(round=self._round, text=text))
        if self._tokens:
            text, count = "".join(self._tokens), self._count
            self._tokens.clear()
            self._count = 0
            self._emit(Tokens(round=self._round, text=text, count=count))

    def _emit(self, event: SessionEvent) -> None:
        self._out.write(_encoder.encode(event).decode() + "\n")
        self._out.flush()

"""MockRunner: a deterministic fake model, for rehearsal, demos and tests.

The same prompt and seed always give the same text; asked for a world-mode
``MOVE:`` it answers in that format, towards the food. ``tokens_per_second``
paces the output like a real model; 0 means as fast as possible (it still
yields to the event loop after every token, so pings keep being answered).
"""

from __future__ import annotations

import random
import re
import time
import zlib
from collections import deque
from collections.abc import AsyncGenerator

import anyio
import anyio.lowlevel

from gambiarra.domain.events import GenerationRequest
from gambiarra.ports import ModelDescription, TokenChunk

__all__ = ["MockRunner"]

_WORDS = (
    *("gambiarra", "fita", "crepe", "arame", "clipe", "elástico", "solda", "fria"),
    *("improviso", "funciona", "quase", "sempre", "bancada", "placa", "LED", "cabo"),
    *("adaptador", "tomada", "jeitinho", "engenhoca", "parafuso", "prego", "cola"),
    *("quente", "durepoxi", "arena", "modelo", "token", "rodada", "tela", "rede"),
    *("participante", "notebook", "ventilador", "barulho", "ideia"),
)
_JOINERS = ("e", "com", "de", "na", "no", "que", "para", "sem", "mas")


_FOOD = re.compile(r"comida mais próxima a (NE|NW|SE|SW|N|E|S|W)\b")


def _move(prompt: str, rng: random.Random) -> list[str]:
    """World mode: answer like a well-behaved model, greedy towards the food."""
    food = _FOOD.search(prompt)
    if food is not None:
        direction, say = food.group(1), " indo atrás da comida"
    else:
        direction, say = rng.choice(("N", "NE", "E", "SE", "S", "SW", "W", "NW")), " explorando"
    return ["MOVE:", f" {direction}", " |", *(" " + w for w in say.split())]


class MockRunner:
    """Writes pseudo-Portuguese text, seeded by the challenge (or its prompt)."""

    kind = "mock"

    def __init__(
        self,
        model: str = "mock",
        tokens_per_second: float = 0.0,
        length: int | None = None,
        schedule: deque[float] | None = None,
    ) -> None:
        self.model = model
        self._tps = tokens_per_second
        self._length = length
        # When given, the time each token was due is appended as it is yielded,
        # so a swarm can measure how late tokens reach the socket.
        self.schedule = schedule

    async def check(self) -> None:
        """The mock is always there."""

    async def models(self) -> list[ModelDescription]:
        return [ModelDescription(self.model, None, "mock")]

    def text(self, request: GenerationRequest) -> list[str]:
        """The exact pieces ``stream`` will yield for this request."""
        seed = request.seed if request.seed is not None else zlib.crc32(request.prompt.encode())
        rng = random.Random(seed)
        if "MOVE:" in request.prompt:
            return _move(request.prompt, rng)
        wanted = self._length if self._length is not None else rng.randint(24, 64)
        if request.max_tokens >= 0:  # negative: no limit, as for the round machine
            wanted = min(wanted, request.max_tokens)
        pieces: list[str] = []
        for i in range(wanted):
            word = rng.choice(_JOINERS if i % 3 == 2 else _WORDS)
            pieces.append(word.capitalize() if i == 0 else " " + word)
        return pieces

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[TokenChunk, None]:
        started = time.monotonic()
        for i, piece in enumerate(self.text(request)):
            due = started + (i + 1) / self._tps if self._tps > 0 else time.monotonic()
            if self._tps > 0:
                await anyio.sleep(max(0.0, due - time.monotonic()))
            else:
                await anyio.lowlevel.checkpoint()
            if self.schedule is not None:
                self.schedule.append(due)
            yield TokenChunk(piece)

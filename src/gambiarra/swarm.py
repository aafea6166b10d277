"""swarm: N simulated participants in one process, for organisers' rehearsals.

Each participant is the real client (its own WebSocket, reconnects, outbox)
with a mock model at its own pace, drawn from a seeded range so runs repeat.
A ``SwarmProbe`` view per participant feeds one ``SwarmStats``, which prints
a table per round and at the end: participants registered, challenges,
completes, tokens, reconnects, errors, and the p50/p99 of time to first
token and of token send lag (from the moment the simulated model should have
produced a token to the moment the client hands it to its socket writer).
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from gambiarra.domain.events import Outcome
from gambiarra.events import ArenaWarned, Connected, RoundEnded, RoundStarted, SessionEvent

__all__ = ["RoundTally", "SwarmProbe", "SwarmStats", "parse_tps_range", "percentile"]


def percentile(samples: array[float] | list[float], fraction: float) -> float | None:
    """The nearest-rank percentile, or None with no samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def parse_tps_range(text: str) -> tuple[float, float]:
    """``10-60`` (or a single ``20``) as a (low, high) pair."""
    low, _, high = text.partition("-")
    pair = (float(low), float(high or low))
    if not 0 < pair[0] <= pair[1]:
        raise ValueError(f"{text} is not a range like 10-60")
    return pair


@dataclass
class RoundTally:
    challenges: int = 0
    completes: int = 0
    tokens: int = 0
    errors: int = 0
    reconnects: int = 0
    ttft_ms: array[float] = field(default_factory=lambda: array("d"))
    lag_ms: array[float] = field(default_factory=lambda: array("d"))

    def add(self, other: RoundTally) -> None:
        self.challenges += other.challenges
        self.completes += other.completes
        self.tokens += other.tokens
        self.errors += other.errors
        self.reconnects += other.reconnects
        self.ttft_ms.extend(other.ttft_ms)
        self.lag_ms.extend(other.lag_ms)


class SwarmStats:
    """Everything the swarm counts; prints a row when a round is over."""

    HEADER = (
        f"{'rodada':>7} {'registrados':>11} {'desafios':>8} {'completes':>9} {'tokens':>8} "
        f"{'reconexões':>10} {'erros':>5} {'TTFT p50/p99 ms':>16} {'atraso p50/p99 ms':>18}"
    )

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out if out is not None else sys.stdout
        self.registered = 0
        self.rounds: dict[int, RoundTally] = {}
        self.current: int | None = None
        self._printed: set[int] = set()
        self.reconnects_between_rounds = 0
        self.gave_up = 0

    def tally(self, round_: int) -> RoundTally:
        if round_ not in self.rounds:
            if self.current is not None and self.current != round_:
                self.print_round(self.current)  # a new round means the last one is over
            self.rounds[round_] = RoundTally()
            self.current = round_
        return self.rounds[round_]

    def reconnected(self) -> None:
        if self.current is None:
            self.reconnects_between_rounds += 1
        else:
            self.rounds[self.current].reconnects += 1

    def total(self) -> RoundTally:
        total = RoundTally(reconnects=self.reconnects_between_rounds)
        for tally in self.rounds.values():
            total.add(tally)
        return total

    def print_round(self, round_: int) -> None:
        if round_ in self._printed:
            return
        if not self._printed:
            self.out.write(self.HEADER + "\n")
        self._printed.add(round_)
        self.out.write(self._row(str(round_), self.rounds[round_]) + "\n")
        self.out.flush()

    def print_final(self) -> None:
        for round_ in self.rounds:
            self.print_round(round_)
        if not self._printed:
            self.out.write(self.HEADER + "\n")
        self.out.write(self._row("total", self.total()) + "\n")
        self.out.flush()

    def summary(self) -> dict[str, Any]:
        total = self.total()
        return {
            "registered": self.registered,
            "rounds": len(self.rounds),
            "challenges": total.challenges,
            "completes": total.completes,
            "tokens": total.tokens,
            "reconnects": total.reconnects,
            "errors": total.errors,
            "gave_up": self.gave_up,
            "ttft_ms_p50": percentile(total.ttft_ms, 0.5),
            "ttft_ms_p99": percentile(total.ttft_ms, 0.99),
            "lag_ms_p50": percentile(total.lag_ms, 0.5),
            "lag_ms_p99": percentile(total.lag_ms, 0.99),
        }

    def _row(self, label: str, tally: RoundTally) -> str:
        def pair(samples: array[float]) -> str:
            low, high = percentile(samples, 0.5), percentile(samples, 0.99)
            return "—" if low is None or high is None else f"{low:.1f}/{high:.1f}"

        return (
            f"{label:>7} {self.registered:>11} {tally.challenges:>8} {tally.completes:>9} "
            f"{tally.tokens:>8} {tally.reconnects:>10} {tally.errors:>5} "
            f"{pair(tally.ttft_ms):>16} {pair(tally.lag_ms):>18}"
        )

    def json_line(self) -> str:
        return json.dumps({"swarm": self.summary()})


class SwarmProbe:
    """The view of one simulated participant: counts into the shared stats."""

    tick_interval: float | None = None

    def __init__(
        self,
        stats: SwarmStats,
        schedule: deque[float],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stats = stats
        self._schedule = schedule
        self._clock = clock
        self._round: RoundTally | None = None

    async def run(self) -> None:
        pass  # counts inline: it is never behind a BufferedView

    def close(self) -> None:
        pass

    def token(self, text: str, count: int = 1) -> None:
        if self._round is None:
            return
        self._round.tokens += count
        if self._schedule:
            self._round.lag_ms.append((self._clock() - self._schedule.popleft()) * 1000)

    def reasoning(self, text: str) -> None:
        pass

    def show(self, event: SessionEvent) -> None:
        if isinstance(event, RoundStarted):
            self._schedule.clear()
            self._round = self._stats.tally(event.round)
            self._round.challenges += 1
        elif isinstance(event, RoundEnded):
            self._round_ended(event)
        elif isinstance(event, Connected):
            if event.first:
                self._stats.registered += 1
            else:
                self._stats.reconnected()
        elif isinstance(event, ArenaWarned) and self._stats.current is not None:
            self._stats.rounds[self._stats.current].errors += 1

    def _round_ended(self, ended: RoundEnded) -> None:
        tally = self._stats.tally(ended.round)
        if ended.outcome is Outcome.FAILED:
            tally.errors += 1
        else:
            tally.completes += 1
        if ended.first_token_ms is not None:
            tally.ttft_ms.append(ended.first_token_ms)

    def tick(self) -> None:
        pass


def participant_tps(index: int, low: float, high: float, seed: int) -> float:
    """Each participant's own speed: the same for the same seed and index."""
    return random.Random(seed * 1_000_003 + index).uniform(low, high)

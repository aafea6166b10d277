"""JsonLinesView: one JSON object per line, for scripts and dashboards (``--json``).

Events: ``connected``, ``disconnected``, ``retrying``, ``status``,
``challenge``, ``tokens`` (the text produced since the last batch, flushed
every ``interval`` and at the end of a round), ``reasoning``, ``complete``
and ``error``; in world mode also ``pulse`` and ``world_summary``.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from gambiarra.domain.events import GenerationRequest, Outcome, RoundEnded
from gambiarra.domain.world.agent import AgentSummary, PulseReport

__all__ = ["JsonLinesView"]

_EVENT_NAMES = {
    "registered": "connected",
    "reconnected": "connected",
    "link_lost": "disconnected",
    "retrying": "retrying",
}


class JsonLinesView:
    def __init__(self, out: TextIO | None = None, interval: float = 0.1) -> None:
        self._out = out if out is not None else sys.stdout
        self.tick_interval: float | None = interval
        self._round: int | None = None
        self._tokens: list[str] = []
        self._count = 0
        self._reasoning: list[str] = []

    async def run(self) -> None:
        pass  # writes inline; BufferedView takes it off the event loop

    def close(self) -> None:
        """Write the text still batched (a Ctrl-C mid-round keeps what was produced)."""
        self.tick()

    def round_started(self, request: GenerationRequest) -> None:
        self._round = request.round
        self._emit(
            event="challenge",
            round=request.round,
            prompt=request.prompt,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            seed=request.seed,
        )

    def token(self, text: str, count: int = 1) -> None:
        self._tokens.append(text)
        self._count += count

    def reasoning(self, text: str) -> None:
        self._reasoning.append(text)

    def round_ended(self, ended: RoundEnded) -> None:
        self.tick()
        m = ended.metrics
        failed = ended.outcome is Outcome.FAILED
        self._emit(
            event="error" if failed else "complete",
            round=ended.round,
            outcome=ended.outcome.value,
            tokens=m.tokens,
            first_token_ms=m.first_token_ms,
            duration_ms=m.duration_ms,
            tokens_per_second=round(m.tokens_per_second, 2),
            reasoning_pieces=ended.reasoning,
            **({"message": ended.error} if failed else {}),
        )

    def status(self, event: str, text: str) -> None:
        self._emit(event=_EVENT_NAMES.get(event, "status"), detail=event, text=text)

    def pulse(self, report: PulseReport) -> None:
        self._emit(
            event="pulse",
            pulse=report.pulse,
            radar=report.radar,
            direction=report.direction,
            say=report.say,
            took_s=round(report.took, 3),
            fallback=report.fallback,
            score=report.score,
        )

    def world_summary(self, summary: AgentSummary) -> None:
        self._emit(
            event="world_summary",
            pulses=summary.pulses,
            score=summary.score,
            average_decision_s=round(summary.average_decision, 3),
            fallbacks=summary.fallbacks,
            errors=summary.errors,
        )

    def tick(self) -> None:
        if self._reasoning:
            self._emit(event="reasoning", round=self._round, text="".join(self._reasoning))
            self._reasoning.clear()
        if self._tokens:
            text, count = "".join(self._tokens), self._count
            self._tokens.clear()
            self._count = 0
            self._emit(event="tokens", round=self._round, text=text, count=count)

    def _emit(self, **fields: Any) -> None:
        self._out.write(json.dumps(fields, ensure_ascii=False) + "\n")
        self._out.flush()

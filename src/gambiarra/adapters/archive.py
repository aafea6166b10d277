"""ArchiveView: keeps every round on disk (``--save-dir``).

For each round a JSON file with the challenge, the full answer, the
reasoning, the metrics, runner and model; when the answer holds an SVG
drawing, also a ``.svg`` with the drawing, closed properly if the model
stopped mid-tag. Names start with the local date and time, then the round,
so a plain ``ls`` lists them in order. A failed write is logged and never
stops the game.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from gambiarra.domain.svg import extract_svg
from gambiarra.errors import ConfigError
from gambiarra.events import RoundEnded, RoundStarted, SessionEvent

__all__ = ["ArchiveView"]

log = structlog.get_logger("gambiarra.archive")


class ArchiveView:
    tick_interval: float | None = None

    def __init__(
        self, directory: str, runner: str, model: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._dir = Path(directory)
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"--save-dir {directory}: não consegui criar a pasta ({exc})"
            ) from None
        self._runner, self._model, self._clock = runner, model, clock
        self._request: RoundStarted | None = None
        self._started = 0.0
        self._answer: list[str] = []
        self._reasoning: list[str] = []

    def show(self, event: SessionEvent) -> None:
        if isinstance(event, RoundStarted):
            self._request, self._started = event, self._clock()
            self._answer, self._reasoning = [], []
        elif isinstance(event, RoundEnded):
            self._save(event)

    async def run(self) -> None:
        pass

    def close(self) -> None:
        pass

    def token(self, text: str, count: int = 1) -> None:
        self._answer.append(text)

    def reasoning(self, text: str) -> None:
        self._reasoning.append(text)

    def tick(self) -> None:
        pass

    def _save(self, ended: RoundEnded) -> None:
        request = self._request
        if request is None or request.round != ended.round:
            return
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self._started))
        stem = self._dir / f"{stamp}-rodada-{ended.round:04d}"
        answer = "".join(self._answer)
        record = {
            "round": ended.round,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self._started)),
            "challenge": {
                "prompt": request.prompt,
                "max_tokens": request.max_tokens,
                "temperature": request.temperature,
                "seed": request.seed,
                "system": request.system,
            },
            "answer": answer,
            "reasoning": "".join(self._reasoning),
            "outcome": ended.outcome.value,
            "error": ended.error,
            "metrics": {
                "tokens": ended.tokens,
                "first_token_ms": ended.first_token_ms,
                "duration_ms": ended.duration_ms,
                "tokens_per_second": round(ended.tokens_per_second, 3),
            },
            "runner": self._runner,
            "model": self._model,
        }
        svg = extract_svg(answer)
        try:
            stem.with_suffix(".json").write_text(
                json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8"
            )
            if svg is not None:
                stem.with_suffix(".svg").write_text(svg, encoding="utf-8")
        except OSError as exc:
            log.warning("round_not_saved", round=ended.round, reason=str(exc))

"""HistoryView: writes every round played into the local history (on by default).

It is a view like the screen: telling it costs an append on the token path;
the database is written from its own task, in a worker thread, once per round
(and once more when the arena's record of the answer is known). A history
that cannot be written is logged once and never stops the game.

Where the history lives: ``--history FILE``, or the platform's user data
directory (``platformdirs``: ``~/.local/share/gambiarra-client`` on Linux,
``~/Library/Application Support/gambiarra-client`` on macOS,
``%LOCALAPPDATA%\\gambiarra-client`` on Windows).
"""

from __future__ import annotations

import datetime
import sqlite3
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import anyio
import anyio.to_thread
import platformdirs
import structlog

from gambiarra.adapters.history_store import HistoryEntry, HistoryStore
from gambiarra.domain.svg import extract_svg
from gambiarra.errors import ConfigError
from gambiarra.events import (
    AnswerRecorded,
    Connected,
    DrawingRound,
    RoundEnded,
    RoundStarted,
    SessionEvent,
)

__all__ = ["APP_DIR", "HistoryView", "history_path"]

log = structlog.get_logger("gambiarra.history")

APP_DIR = "gambiarra-client"
FILE_NAME = "history.db"


def history_path(explicit: str | None, disabled: bool) -> Path | None:
    """The history database file; None when the participant turned it off."""
    if disabled:
        return None
    if explicit is not None:
        return Path(explicit)
    return platformdirs.user_data_path(APP_DIR, appauthor=False) / FILE_NAME


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class HistoryView:
    """Keeps each round: prompt, answer, reasoning apart, figures, outcome.

    Args:
        path: the database file.
        arena_url, runner, model: what every round was played with.
        device: the machine's description, read when a round is kept (it is
            known only once the model was looked at).
        clock: wall time as ISO 8601 (tests pass a fixed one).
    """

    tick_interval: float | None = None

    def __init__(
        self,
        path: Path,
        arena_url: str,
        runner: str,
        model: str,
        device: Callable[[], str | None] = lambda: None,
        clock: Callable[[], str] = _now,
    ) -> None:
        self.path = path
        self._base = HistoryEntry(
            played_at="",
            arena_url=arena_url,
            round=0,
            prompt="",
            answer="",
            outcome="",
            model=model,
            runner=runner,
        )
        self._device = device
        self._clock = clock
        self._store: HistoryStore | None = None
        self._session: str | None = None
        self._started: RoundStarted | None = None
        self._drawing = False
        self._answer: list[str] = []
        self._reasoning: list[str] = []
        self._todo: deque[HistoryEntry | AnswerRecorded] = deque()
        self._ids: dict[int, int] = {}  # round -> row id, for the arena's record
        self._wake = anyio.Event()
        self._broken = False

    # ------------------------------------------------------------ the view

    def token(self, text: str, count: int = 1) -> None:
        self._answer.append(text)

    def reasoning(self, text: str) -> None:
        self._reasoning.append(text)

    def show(self, event: SessionEvent) -> None:
        if isinstance(event, Connected) and event.session_id is not None:
            self._session = event.session_id
        elif isinstance(event, RoundStarted):
            self._started, self._drawing = event, False
            self._answer, self._reasoning = [], []
        elif isinstance(event, DrawingRound):
            self._drawing = True
        elif isinstance(event, RoundEnded) and self._started is not None:
            self._queue(self._entry(self._started, event))
        elif isinstance(event, AnswerRecorded):
            self._queue(event)

    def tick(self) -> None:
        pass

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            await anyio.to_thread.run_sync(self._write_pending)

    def close(self) -> None:
        self._write_pending()  # what is left, in this thread: the session is over
        if self._store is not None:
            self._store.close()
            self._store = None

    # ------------------------------------------------------------ writing

    def _entry(self, started: RoundStarted, ended: RoundEnded) -> HistoryEntry:
        answer = "".join(self._answer)
        return replace(
            self._base,
            played_at=self._clock(),
            device=self._device(),
            session_id=self._session,
            round=ended.round,
            prompt=started.prompt,
            answer=answer,
            reasoning="".join(self._reasoning),
            outcome=ended.outcome.value,
            tokens=ended.tokens,
            first_token_ms=ended.first_token_ms,
            duration_ms=ended.duration_ms,
            tokens_per_second=ended.tokens_per_second,
            error=ended.error,
            svg=extract_svg(answer) if self._drawing or "<svg" in answer else None,
        )

    def _queue(self, item: HistoryEntry | AnswerRecorded) -> None:
        if not self._broken:
            self._todo.append(item)
            self._wake.set()

    def _write_pending(self) -> None:
        while self._todo and not self._broken:
            item = self._todo.popleft()
            try:
                self._write(item)
            except (sqlite3.Error, OSError, ConfigError) as exc:
                self._broken = True
                log.warning("history_not_written", path=str(self.path), error=str(exc)[:200])

    def _write(self, item: HistoryEntry | AnswerRecorded) -> None:
        if self._store is None:
            self._store = HistoryStore(self.path)
        if isinstance(item, HistoryEntry):
            self._ids[item.round] = self._store.add(item)
        elif item.round in self._ids:
            self._store.set_arena_record(self._ids[item.round], item.chars, item.exact)

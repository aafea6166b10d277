"""LiveView: on a terminal, the answer streams above a status line that stays put.

The bottom row is kept out of the scrolling region (DECSTBM, as apt does for
its progress bar), so the answer text scrolls above it and is written the
moment it arrives; only the status line is redrawn, at most ``interval``
times a second: tokens so far, tokens/s, elapsed time and time left.
``close()`` gives the whole screen back to scrolling.

Under ``NO_COLOR`` the reasoning is not dimmed; the cursor and region
control stay, since they place text rather than colour it.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from os import terminal_size
from typing import TextIO

from gambiarra.adapters.console import ConsoleView, colors_allowed
from gambiarra.events import RoundEnded, RoundStarted, SessionEvent

__all__ = ["LiveView", "status_text"]

SAVE, RESTORE, CLEAR_LINE = "\x1b7", "\x1b8", "\x1b[2K"


def status_text(tokens: int, rate: float, elapsed: float, left: float | None) -> str:
    """The status line, in Portuguese."""
    line = f"⏳ {tokens} tokens · {rate:.1f} tokens/s · {elapsed:.1f} s"
    if left is not None:
        line += f" · faltam {max(0.0, left):.0f} s"
    return line


class LiveView(ConsoleView):
    """ConsoleView plus a live status line; for terminals only."""

    def __init__(
        self,
        out: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        size: Callable[[], terminal_size] = shutil.get_terminal_size,
        interval: float = 0.1,
        color: bool | None = None,
    ) -> None:
        super().__init__(out, dim=colors_allowed() if color is None else color)
        self.tick_interval = self._interval = interval
        self._clock = clock
        self._size = size
        self._request: RoundStarted | None = None
        self._started = 0.0
        self._first_token: float | None = None
        self._tokens = 0
        self._drawn_at = float("-inf")
        self._rows = 0

    def show(self, event: SessionEvent) -> None:
        if isinstance(event, RoundEnded):
            self._release_bottom_row()
            self._request = None
        super().show(event)
        if isinstance(event, RoundStarted):
            self._request, self._started = event, self._clock()
            self._first_token, self._tokens = None, 0
            self._reserve_bottom_row()
            self._draw()

    def close(self) -> None:
        """Release the fenced bottom row (a Ctrl-C mid-round must not leave it dead)."""
        self._release_bottom_row()
        self._request = None
        super().close()

    def token(self, text: str, count: int = 1) -> None:
        super().token(text, count)
        if self._first_token is None:
            self._first_token = self._clock()
        self._tokens += count
        self._maybe_draw()

    def reasoning(self, text: str) -> None:
        super().reasoning(text)
        self._maybe_draw()

    def tick(self) -> None:
        self._maybe_draw()

    # ------------------------------------------------------------ drawing

    def _maybe_draw(self) -> None:
        if self._request is not None and self._clock() - self._drawn_at >= self._interval:
            self._draw()

    def _draw(self) -> None:
        if self._request is None or not self._rows:
            return
        now = self._clock()
        self._drawn_at = now
        rate = 0.0
        if self._first_token is not None and now > self._first_token:
            rate = self._tokens / (now - self._first_token)
        left = None if self._request.deadline_at is None else self._request.deadline_at - now
        line = status_text(self._tokens, rate, now - self._started, left)
        width = self._size().columns
        self._out.write(f"{SAVE}\x1b[{self._rows};1H{CLEAR_LINE}{line[: width - 1]}{RESTORE}")
        self._out.flush()

    def _reserve_bottom_row(self) -> None:
        rows = self._size().lines
        if rows < 3:
            return  # too small to spare a row: plain lines only
        self._rows = rows
        # Make room, fence the bottom row off the scrolling region (which moves
        # the cursor home), then put the cursor back where the text goes.
        self._out.write(f"\n{SAVE}\x1b[1;{rows - 1}r{RESTORE}\x1b[1A")
        self._out.flush()

    def _release_bottom_row(self) -> None:
        if not self._rows:
            return
        self._out.write(f"{SAVE}\x1b[r{RESTORE}{SAVE}\x1b[{self._rows};1H{CLEAR_LINE}{RESTORE}")
        self._out.flush()
        self._rows = 0

"""BufferedView: the screen is drawn from a bounded buffer, in a task of its own.

The client hands every frame to the arena first and only then tells the view;
behind this wrapper, telling the view costs an append. ``run()`` drains the
buffer and calls the real (blocking) view in a worker thread, so a terminal
that does not read (``| less`` not scrolled, Ctrl-S) never stalls the event
loop: pings are answered and tokens keep reaching the arena. What arrives
before ``run()`` starts waits for it; ``close()`` draws what is left, in the
caller's thread (the arena has everything by then), and anything after it.

While the screen is busy, answer text piles up in one entry (pieces are
joined, with their token count) rather than being dropped; other lines are
kept up to ``limit``, after which the oldest state or pulse line gives way
(never a round's start or end).

A closed or broken stdout (``| head``) switches the screen off for the rest
of the run, with one warning and no traceback; play goes on.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

import anyio
import structlog

from gambiarra.adapters.views import SilentView
from gambiarra.events import (
    RoundEnded,
    RoundStarted,
    SessionEnded,
    SessionEvent,
    Skipped,
    WorldSummary,
)
from gambiarra.ports import RoundView

__all__ = ["SCREEN_ERRORS", "BufferedView", "buffered_stdout", "point_at_devnull"]

log = structlog.get_logger("gambiarra.screen")

# Events a full buffer never drops: they frame the rounds (the rest are state lines).
_KEPT = (RoundStarted, RoundEnded, WorldSummary, SessionEnded)

# The screen is drawn at most this often: a fast model's tokens join one entry
# meanwhile, so the worker-thread hop (tens of µs, and the GIL taken from the
# relay) is paid a few dozen times a second, not once per network chunk. A
# token after a pause is still drawn at once.
DRAW_INTERVAL = 1 / 30

# What a screen that went away raises: EPIPE (the reader quit), EIO (the
# terminal closed), ValueError (the stream was closed).
SCREEN_ERRORS = (OSError, ValueError)


@dataclass(slots=True)
class _Text:
    """Answer or reasoning text waiting for the screen; later pieces join it."""

    reasoning: bool
    pieces: list[str]
    count: int

    def draw(self, view: RoundView) -> None:
        text = "".join(self.pieces)
        if self.reasoning:
            view.reasoning(text)
        else:
            view.token(text, self.count)


@dataclass(frozen=True, slots=True)
class _Call:
    """Any other call, replayed as it was made."""

    draw: Callable[[RoundView], None]
    droppable: bool = False  # a state or pulse line: first to go when the buffer is full


class BufferedView:
    """Wraps a blocking view so that calling it never blocks and never raises.

    Args:
        inner: the view that writes to the screen; only ever called from one
            thread at a time (the worker while ``run()`` runs, the caller's
            in and after ``close()``).
        limit: how many lines (anything but answer text) may wait.
        stream: the stream ``inner`` writes to; when it breaks, its file
            descriptor is pointed at /dev/null so the interpreter's last flush
            at exit does not print "Exception ignored ... BrokenPipeError".
    """

    tick_interval: float | None = None  # run() ticks the inner view itself

    def __init__(
        self,
        inner: RoundView,
        limit: int = 1000,
        stream: TextIO | None = None,
        draw_interval: float = DRAW_INTERVAL,
    ) -> None:
        self._inner = inner
        self._draw_interval = draw_interval
        self._limit = limit
        self._stream = stream
        self._pending: deque[_Text | _Call] = deque()
        self._calls = 0  # the _Call entries in _pending
        self._skipped = 0
        self._in_flight: list[_Text | _Call] = []
        # The answer text entry at the end of the queue, which a token joins
        # with one append (None when the last entry is anything else).
        self._answer: _Text | None = None
        self._wake: anyio.Event | None = None  # set while run() is drawing
        self._lost = False
        self._closed = False

    @property
    def lost(self) -> bool:
        """True once the screen broke and drawing stopped."""
        return self._lost

    # ------------------------------------------------------------ the drawing task

    async def run(self) -> None:
        """Draw what arrives, in a worker thread, until cancelled."""
        interval = self._inner.tick_interval
        next_tick = anyio.current_time() + (interval or 0.0)
        next_draw = anyio.current_time()
        self._wake = anyio.Event()
        try:
            while not self._lost:
                if not self._pending:
                    wait = None if interval is None else next_tick - anyio.current_time()
                    with anyio.move_on_after(wait):
                        await self._wake.wait()
                if self._pending and anyio.current_time() < next_draw:
                    # Drawn moments ago: what comes meanwhile joins this batch.
                    await anyio.sleep(next_draw - anyio.current_time())
                self._wake = anyio.Event()
                tick = interval is not None and anyio.current_time() >= next_tick
                if tick:
                    next_tick = anyio.current_time() + (interval or 0.0)
                self._in_flight = self._take()
                if self._in_flight or tick:
                    # Not abandoned on cancel: the inner view is never used by two
                    # threads at once, and close() runs after this has returned.
                    self._after(await anyio.to_thread.run_sync(self._draw_in_flight, tick))
                    next_draw = anyio.current_time() + self._draw_interval
        finally:
            self._wake = None

    def close(self) -> None:
        """Draw what is still queued, then let the inner view restore the terminal."""
        if self._closed:
            return
        self._closed = True
        self._flush()
        if not self._lost:
            try:
                self._inner.close()
            except SCREEN_ERRORS as exc:
                self._lose(exc)

    # ------------------------------------------------------------ the view, as an append

    def token(self, text: str, count: int = 1) -> None:
        answer = self._answer
        if answer is not None:  # the usual case: the screen has not taken the text yet
            answer.pieces.append(text)
            answer.count += count
            return
        self._put_text(text, False, count)

    def reasoning(self, text: str) -> None:
        self._put_text(text, True, 1)

    def show(self, event: SessionEvent) -> None:
        self._put(lambda view: view.show(event), droppable=not isinstance(event, _KEPT))

    def tick(self) -> None:
        pass  # run() ticks the inner view at its own interval

    # ------------------------------------------------------------ internals

    def _put_text(self, text: str, reasoning: bool, count: int) -> None:
        if self._lost:
            return
        last = self._pending[-1] if self._pending else None
        if isinstance(last, _Text) and last.reasoning is reasoning:
            last.pieces.append(text)
            last.count += count
        else:
            entry = _Text(reasoning, [text], count)
            self._pending.append(entry)
            # Later answer text joins this entry until the screen takes it or a
            # line follows; the screen was woken for it already.
            self._answer = None if reasoning or self._closed else entry
        self._wake_or_draw()

    def _put(self, draw: Callable[[RoundView], None], droppable: bool = False) -> None:
        if self._lost:
            return
        if self._calls >= self._limit:
            self._make_room()
        self._pending.append(_Call(draw, droppable))
        self._answer = None  # text after this line is a new entry
        self._calls += 1
        self._wake_or_draw()

    def _make_room(self) -> None:
        # Text is never dropped, and consecutive text merges, so only lines can go.
        calls = [i for i, item in enumerate(self._pending) if isinstance(item, _Call)]
        victim = next((i for i in calls if self._is_droppable(i)), calls[0])
        del self._pending[victim]
        self._calls -= 1
        self._skipped += 1

    def _is_droppable(self, index: int) -> bool:
        item = self._pending[index]
        return isinstance(item, _Call) and item.droppable

    def _wake_or_draw(self) -> None:
        if self._wake is not None:
            self._wake.set()
        elif self._closed:
            self._flush()  # nothing will drain the buffer any more

    def _take(self) -> list[_Text | _Call]:
        batch = list(self._pending)
        self._pending.clear()
        self._answer = None
        self._calls = 0
        if self._skipped:
            skipped, self._skipped = self._skipped, 0
            notice = Skipped(lines=skipped)
            batch.insert(0, _Call(lambda view: view.show(notice)))
        return batch

    def _flush(self) -> None:
        self._in_flight = [*self._in_flight, *self._take()]
        self._after(self._draw_in_flight(False))

    def _draw_in_flight(self, tick: bool) -> BaseException | None:
        batch, self._in_flight = self._in_flight, []
        try:
            for item in batch:
                item.draw(self._inner)
            if tick:
                self._inner.tick()
        except SCREEN_ERRORS as exc:
            return exc
        return None

    def _after(self, failure: BaseException | None) -> None:
        if failure is not None and not self._lost:
            self._lose(failure)

    def _lose(self, exc: BaseException) -> None:
        self._lost = True
        self._inner = SilentView()
        self._pending.clear()
        self._answer = None
        self._calls = self._skipped = 0
        if isinstance(exc, OSError):
            self._detach_stream()
        with contextlib.suppress(*SCREEN_ERRORS):  # stderr may be gone too
            log.warning(
                "screen_lost",
                reason=f"{type(exc).__name__}: {exc}",
                detail="a saída padrão fechou; o jogo segue sem mostrar o texto",
            )

    def _detach_stream(self) -> None:
        if self._stream is not None:
            point_at_devnull(self._stream)


def point_at_devnull(stream: TextIO) -> None:
    """Point a broken stream's file descriptor at /dev/null.

    What is still buffered then goes nowhere quietly, instead of the
    interpreter printing "Exception ignored ... BrokenPipeError" at exit.
    A stream without a file descriptor (or already closed) is left alone.
    """
    with contextlib.suppress(*SCREEN_ERRORS):
        fd = stream.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)


def buffered_stdout(inner: RoundView, limit: int = 1000) -> BufferedView:
    """``inner`` (which writes to stdout) behind a buffer that knows it is stdout."""
    return BufferedView(inner, limit=limit, stream=sys.stdout)

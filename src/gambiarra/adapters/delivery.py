"""Delivery: writing frames to the arena in order, and learning which arrived.

Nothing the client sends is acknowledged by the arena, so a pong proves it
instead: the arena reads a connection's frames in order, and answers a ping
only after reading everything written before it. While frames are
unconfirmed, ``serve`` asks for a pong every ``ack_interval`` (or at once when
many piled up, or when ``flush`` waits).

Round frames (token, complete, error) go through the ``Outbox`` and are kept
in the ``RoundLog``; world messages are about now and go out only on a live
link. ``send`` never blocks: the generation is never held back by the link.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import anyio
import structlog
from websockets.asyncio.client import ClientConnection

from gambiarra.adapters.arena_socket import can_write_now, send_frames, write_frames_now
from gambiarra.domain.outbox import Outbox
from gambiarra.domain.protocol import (
    ClientMessage,
    Complete,
    ErrorReport,
    Register,
    Token,
    encode_client,
)
from gambiarra.domain.round_log import RoundLog

__all__ = ["ACK_EVERY", "Delivery"]

log = structlog.get_logger("gambiarra.delivery")

# Unconfirmed frames that trigger a confirmation before the ack interval is up.
ACK_EVERY = 4096
# At most this many frames in one write (a reconnect may have thousands to resend).
BATCH_FRAMES = 512
# A token is written the moment it is sent, unless another write happened less
# than this long ago (a burst read in one network chunk): it then goes with the
# rest of the burst, in the writer's next write, a few dozen µs later.
WRITE_GAP = 2e-3


class Delivery:
    """The outbox, the round log and the writer of one link at a time.

    Args:
        outbox: unconfirmed round frames.
        ack_interval: seconds between confirmations while frames are unconfirmed.
        on_final_confirmed: called with the round and its answer's text once
            its ``complete`` is confirmed to be at the arena.
        clock: monotonic seconds, to space the direct writes of a burst.
    """

    def __init__(
        self,
        outbox: Outbox | None = None,
        ack_interval: float = 0.5,
        on_final_confirmed: Callable[[int, str | None], None] = lambda round, text: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.outbox = outbox if outbox is not None else Outbox()
        self.log = RoundLog()
        self._ack_interval = ack_interval
        self._on_final_confirmed = on_final_confirmed
        # Completes written but not yet confirmed, by round: several rounds can be
        # in flight when a fast model finishes them quicker than a confirmation.
        # With each, the answer's text (None if the log could not keep it whole),
        # to compare with what the arena recorded.
        self._pending_finals: dict[int, tuple[bytes, str | None]] = {}
        self._live: deque[bytes] = deque()
        # Set by the link from registration to close: world messages go out only then.
        self._linked = False
        self._wake = anyio.Event()
        self._woken = False  # _wake is set and the writer has not taken it yet
        self._confirmed = anyio.Event()
        self._ack_now = anyio.Event()
        self._overflow_logged: int | None = None
        self._last_kind: type[ClientMessage] = Register
        self._clock = clock
        self._ws: ClientConnection | None = None  # the served link, while the writer runs
        self._written_at = -WRITE_GAP
        self._wrote: anyio.Event | None = None  # set at the next write, for next_write()

    # ------------------------------------------------------------ the port's side

    def send(self, message: ClientMessage) -> bool:
        """Queue a message and write it at once if the link allows.

        Returns False when a token could not be held (outbox full).
        """
        self._last_kind = type(message)
        frame = encode_client(message)
        if isinstance(message, Token):
            # The bound applies only while the link is down: on a live link every
            # frame is written at once and confirmed within moments.
            if not self.outbox.add(frame, round=message.round, bounded=not self._linked):
                self._overflowed(message)
                return False
            self.log.token(message.round, message.seq, message.content, frame)
            if self._ws is None or self._clock() - self._written_at < WRITE_GAP:
                if not self._woken:  # the writer takes it, with the rest of the burst
                    self._woken = True
                    self._wake.set()
            else:
                self._write_soon(final=False)
            return True
        if isinstance(message, Complete | ErrorReport):
            complete = isinstance(message, Complete)
            self.log.finish(message.round, frame, complete=complete)
            # Only a complete is recorded by the arena, so only its arrival is checked.
            if complete:
                whole = self.log.round == message.round and self.log.complete
                self._pending_finals[message.round] = (frame, self.log.text if whole else None)
            self.outbox.add(frame, round=message.round, bounded=False)  # a report is never lost
        elif self._linked:
            # World messages are about now: one for a dead link is dropped, and
            # the agent joins again and answers the next pulse after a reconnect.
            self._live.append(frame)
        self._write_soon(final=True)
        return True

    @property
    def last_sent(self) -> str:
        """The wire type of the last message sent (for the log of a rejected one)."""
        return str(self._last_kind.__struct_config__.tag)

    def _overflowed(self, token: Token) -> None:
        if self._overflow_logged != token.round:
            self._overflow_logged = token.round
            log.error("outbox_full", limit=self.outbox.limit, round=token.round, seq=token.seq)

    def _write_soon(self, *, final: bool) -> None:
        """Write what is ready now, from the caller, or have the writer task do it.

        Now, when the link is served and keeping up: the token reaches the
        socket with no task switch (the first token of a round above all).
        Within ``WRITE_GAP`` of the last such write (a model that yields
        tokens in bursts), the writer task takes them all in one write once
        the caller yields; a final frame is never held back.
        """
        ws = self._ws
        if (
            ws is not None
            and (final or self._clock() - self._written_at >= WRITE_GAP)
            and can_write_now(ws)
        ):
            write_frames_now(ws, self._ready())
            self._written_at = self._clock()
            self._after_write()
        elif not self._woken:  # once per burst, not once per token
            self._woken = True
            self._wake.set()

    async def flush(self) -> None:
        """Wait until every round frame sent so far is confirmed."""
        while self.outbox.unconfirmed:
            self._ack_now.set()
            await self._confirmed.wait()

    # ------------------------------------------------------------ the link's side

    def rewind(self) -> int:
        """A new link with nothing better known: write everything unconfirmed again."""
        return self.outbox.rewind()

    def resume(self, round: int, seq: int, *, final: bool | None) -> int | None:
        """A new link; the arena holds ``seq`` tokens of ``round``: continue from there.

        ``final``: True sends the round's final frame again, False never, None
        only when it was not confirmed. Returns how many frames will be
        written, or None when the round log cannot serve it (the caller falls
        back to ``rewind``).
        """
        if self.log.round != round or not self.log.complete or seq > self.log.tokens:
            return None
        if final is None:
            final = self.log.final is not None and self.outbox.find(self.log.final) is not None
        frames = self.log.frames_from(seq, final=final)
        resent = self.outbox.resume(round, frames)
        if not final:
            self._pending_finals.pop(round, None)  # recorded already, or not a complete
        self._wake_flushers()
        return resent

    def drop_round(self, round: int) -> None:
        """The arena recorded that round whole: its unconfirmed frames are not needed."""
        self.outbox.drop(round)
        self._pending_finals.pop(round, None)
        self._wake_flushers()

    def resend_final(self, round: int) -> bool:
        """Write the round's final frame once more (the arena did not record it)."""
        if self.log.round != round or self.log.final is None:
            return False
        self._pending_finals[round] = (self.log.final, self.log.text if self.log.complete else None)
        self.outbox.add(self.log.final, round=round, bounded=False)
        self._write_soon(final=True)
        return True

    def forget(self) -> None:
        """The session is gone, and with it every round of it."""
        self.outbox.clear()
        self.log = RoundLog()
        self._pending_finals.clear()
        self._wake_flushers()

    @property
    def linked(self) -> bool:
        return self._linked

    @linked.setter
    def linked(self, registered: bool) -> None:
        self._linked = registered
        if not registered:
            self._live.clear()  # about a link that is gone

    async def serve(self, ws: ClientConnection) -> None:
        """Write and confirm frames on this link until cancelled or the link fails."""
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._writer, ws)
                await self._acker(ws)
        finally:
            self._ws = None

    # ------------------------------------------------------------ tasks

    async def _writer(self, ws: ClientConnection) -> None:
        # Every frame ready when the writer runs goes out in one write: a model
        # that yields tokens faster than they are written costs one system
        # call per burst, not per token, and each token is still its own frame.
        self._ws = ws  # from now on send() may write directly
        while True:
            frames = self._ready()
            if not frames:
                await self._wake.wait()
                self._wake, self._woken = anyio.Event(), False
                continue
            await send_frames(ws, frames)
            self._written_at = self._clock()
            self._after_write()

    def _ready(self) -> list[bytes]:
        """The frames to write next, in order: world messages first, then round frames."""
        frames = [*self._live] if self._live else []
        self._live.clear()
        frames += self.outbox.take(BATCH_FRAMES - len(frames))
        return frames

    async def next_write(self) -> None:
        """Wait until frames are next written to the socket (after a challenge: its first token)."""
        if self._wrote is None:
            self._wrote = anyio.Event()
        await self._wrote.wait()

    def _after_write(self) -> None:
        if self._wrote is not None:
            self._wrote.set()
            self._wrote = None
        if self.outbox.unconfirmed >= ACK_EVERY:
            self._ack_now.set()  # a fast model: confirm by volume, not only by time

    async def _acker(self, ws: ClientConnection) -> None:
        while True:
            with anyio.move_on_after(self._ack_interval):
                await self._ack_now.wait()  # flush() asks for a confirmation at once
            self._ack_now = anyio.Event()
            mark = self.outbox.written_mark
            if self.outbox.unconfirmed and mark > self.outbox.confirmed_mark:
                pong = await ws.ping()
                await pong
                self._confirm(mark)

    def _confirm(self, mark: int) -> None:
        self.outbox.confirm(mark)
        for round, (frame, text) in list(self._pending_finals.items()):
            if self.outbox.find(frame) is None:  # confirmed, so forgotten by the outbox
                del self._pending_finals[round]
                self._on_final_confirmed(round, text)
        self._wake_flushers()

    def _wake_flushers(self) -> None:
        """The outbox shrank: whoever waits in ``flush`` looks again."""
        self._confirmed.set()
        self._confirmed = anyio.Event()

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

from collections import deque
from collections.abc import Callable

import anyio
import structlog
from websockets.asyncio.client import ClientConnection

from gambiarra.domain.outbox import Outbox
from gambiarra.domain.protocol import ClientMessage, Complete, ErrorReport, Token, encode_client
from gambiarra.domain.round_log import RoundLog

__all__ = ["ACK_EVERY", "Delivery"]

log = structlog.get_logger("gambiarra.delivery")

# Unconfirmed frames that trigger a confirmation before the ack interval is up.
ACK_EVERY = 4096


class Delivery:
    """The outbox, the round log and the writer of one link at a time.

    Args:
        outbox: unconfirmed round frames.
        ack_interval: seconds between confirmations while frames are unconfirmed.
        on_final_confirmed: called with the round and its answer's text once
            its ``complete`` is confirmed to be at the arena.
    """

    def __init__(
        self,
        outbox: Outbox | None = None,
        ack_interval: float = 0.5,
        on_final_confirmed: Callable[[int, str | None], None] = lambda round, text: None,
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
        self._confirmed = anyio.Event()
        self._ack_now = anyio.Event()
        self._overflow_logged: int | None = None
        self.last_sent = "register"

    # ------------------------------------------------------------ the port's side

    def send(self, message: ClientMessage) -> bool:
        """Queue a message; False when a token could not be held (outbox full)."""
        self.last_sent = str(message.__struct_config__.tag)  # the wire type
        frame = encode_client(message)
        if isinstance(message, Token):
            return self._send_token(message, frame)
        if isinstance(message, Complete | ErrorReport):
            complete = isinstance(message, Complete)
            self.log.finish(message.round, frame, complete=complete)
            # Only a complete is recorded by the arena, so only its arrival is checked.
            if complete:
                whole = self.log.round == message.round and self.log.complete
                self._pending_finals[message.round] = (frame, self.log.text if whole else None)
            self.outbox.add(frame, round=message.round, bounded=False)  # a report is never lost
        elif self.linked:
            # World messages are about now: one for a dead link is dropped, and
            # the agent joins again and answers the next pulse after a reconnect.
            self._live.append(frame)
        self._wake.set()
        return True

    def _send_token(self, token: Token, frame: bytes) -> bool:
        # The bound applies only while the link is down: on a live link every
        # frame is written at once and confirmed within moments.
        if not self.outbox.add(frame, round=token.round, bounded=not self.linked):
            if self._overflow_logged != token.round:
                self._overflow_logged = token.round
                log.error("outbox_full", limit=self.outbox.limit, round=token.round, seq=token.seq)
            return False
        self.log.token(token.round, token.seq, token.content, frame)
        self._wake.set()
        return True

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
        self._wake.set()
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
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._writer, ws)
            await self._acker(ws)

    # ------------------------------------------------------------ tasks

    async def _writer(self, ws: ClientConnection) -> None:
        while True:
            while self._live:
                await ws.send(self._live.popleft(), text=True)
            frame = self.outbox.next_unwritten()
            if frame is None:
                await self._wake.wait()
                self._wake = anyio.Event()
                continue
            await ws.send(frame, text=True)
            self.outbox.mark_written()
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

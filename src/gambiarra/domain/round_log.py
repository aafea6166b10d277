"""RoundLog: every frame of the round in play, confirmed or not.

The outbox forgets a frame once the arena confirmed it, but an arena that
restarts mid-round loses its in-memory tokens (protocol.md) and then accepts
seq 0 again: to give it the whole answer, the client keeps the round's token
frames (and its final ``complete`` or ``error``) until the next round starts.
The text kept here is also what the arena's record is checked against.
"""

from __future__ import annotations

__all__ = ["LOG_LIMIT", "RoundLog"]

# A round is capped at max_tokens pieces by the client itself; this bound is
# only a last guard. Past it the log stops keeping (resume then falls back to
# re-sending what is unconfirmed).
LOG_LIMIT = 200_000


class RoundLog:
    """The frames of one round by seq, and its final frame."""

    def __init__(self, limit: int = LOG_LIMIT) -> None:
        self.limit = limit
        self.round: int | None = None
        self.final: bytes | None = None
        self.final_is_complete = False  # a ``complete`` (recorded by the arena), not an ``error``
        self.complete = True  # False once a frame could not be kept
        self._frames: list[bytes] = []
        self._contents: list[str] = []

    def token(self, round: int, seq: int, content: str, frame: bytes) -> None:
        """Keep a token frame; a token of another round starts a new log."""
        if round != self.round:
            self._start(round)
        if seq != len(self._frames) or len(self._frames) >= self.limit:
            self.complete = False
            return
        self._frames.append(frame)
        self._contents.append(content)

    def finish(self, round: int, frame: bytes, *, complete: bool) -> None:
        """Keep the round's ``complete`` (``complete=True``) or ``error`` frame."""
        if round != self.round:
            self._start(round)
        self.final, self.final_is_complete = frame, complete

    @property
    def text(self) -> str:
        return "".join(self._contents)

    @property
    def tokens(self) -> int:
        return len(self._frames)

    def frames_from(self, seq: int, *, final: bool) -> list[bytes]:
        """The frames from ``seq`` on, with the final frame when asked and known."""
        frames = self._frames[seq:]
        if final and self.final is not None:
            frames.append(self.final)
        return frames

    def _start(self, round: int) -> None:
        self.round, self.final, self.complete = round, None, True
        self.final_is_complete = False
        self._frames, self._contents = [], []

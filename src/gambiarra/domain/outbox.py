"""Outbox: the round messages not yet known to be at the arena.

Nothing the client sends is acknowledged by the arena, and a frame written to
a socket that then dies may or may not have arrived. The outbox holds every
round frame (token, complete, error) until the transport learns it arrived
(a pong to a ping sent after it: the server reads a connection's frames in
order). After a reconnect everything unconfirmed is written again, in order,
with the same seq: the server drops the ones it already has (their seq is
below its buffer's length) and accepts the rest, so no token is lost and none
is counted twice.

Ids are absolute positions in the stream of held frames, so a confirmation
mark taken before later frames were added stays valid. Each frame carries the
round it belongs to, so that when the arena says exactly what it holds of a
round (``resume``), that round's frames are replaced by the exact remainder.

Frames written on the current link and frames still to write are kept apart,
so taking the next batch to write costs the batch, never the written backlog
(tens of thousands of frames between two confirmations of a fast model).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

__all__ = ["DEFAULT_LIMIT", "Outbox"]

# A round is at most a few thousand tokens; 20 000 unconfirmed frames is
# minutes of generation with the link down. Past it, further tokens produced
# while the link is down are not held (they would be lost), but complete and
# error frames still are. While the link is up every frame is written at once
# and confirmed within moments, so the limit does not apply.
DEFAULT_LIMIT = 20_000

_Held = tuple[int | None, bytes]  # (round, frame)


class Outbox:
    """An ordered buffer of encoded frames with written and confirmed marks."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self.refused = 0
        self._written: deque[_Held] = deque()  # written on this link, unconfirmed
        self._queued: deque[_Held] = deque()  # not written on this link yet
        self._base = 0  # id of the oldest held frame: everything before it is confirmed

    def __len__(self) -> int:
        return len(self._written) + len(self._queued)

    def add(self, frame: bytes, *, round: int | None = None, bounded: bool = True) -> bool:
        """Hold a frame of ``round``; False when a bounded frame finds the outbox full."""
        if bounded and len(self._written) + len(self._queued) >= self.limit:
            self.refused += 1
            return False
        self._queued.append((round, frame))
        return True

    def take(self, limit: int) -> list[bytes]:
        """Up to ``limit`` frames to write next, in order, counted as written from now."""
        queued, written = self._queued, self._written
        taken = []
        for _ in range(min(limit, len(queued))):
            held = queued.popleft()
            written.append(held)
            taken.append(held[1])
        return taken

    @property
    def written_mark(self) -> int:
        return self._base + len(self._written)

    @property
    def confirmed_mark(self) -> int:
        return self._base

    @property
    def end(self) -> int:
        """The id the next frame added will get."""
        return self._base + len(self)

    def find(self, frame: bytes) -> int | None:
        """The id of this very frame object, if it is still held."""
        for index, (_, held) in enumerate(self._held()):
            if held is frame:
                return self._base + index
        return None

    @property
    def unconfirmed(self) -> int:
        return len(self)

    def confirm(self, mark: int) -> None:
        """Every frame before ``mark`` reached the arena: forget it."""
        for frames in (self._written, self._queued):
            while self._base < mark and frames:
                frames.popleft()
                self._base += 1

    def rewind(self) -> int:
        """A new link: everything unconfirmed must be written again. Returns how many."""
        if self._written:
            self._written.extend(self._queued)
            self._queued, self._written = self._written, deque()
        return len(self._queued)

    def resume(self, round: int, frames: Sequence[bytes]) -> int:
        """A new link, and the arena told us what it holds of ``round``.

        Everything unconfirmed is written again, except that ``round``'s own
        frames are replaced by ``frames``: exactly what the arena lacks.
        Returns how many frames will be written.
        """
        self.rewind()
        self._queued = deque(held for held in self._queued if held[0] != round)
        self._queued.extend((round, frame) for frame in frames)
        return len(self._queued)

    def rounds(self) -> set[int]:
        """The rounds that still have unconfirmed frames."""
        return {round for round, _ in self._held() if round is not None}

    def drop(self, round: int) -> None:
        """A new link, and the arena has all of ``round``: never write it again."""
        self.rewind()
        self._queued = deque(held for held in self._queued if held[0] != round)

    def clear(self) -> None:
        """Drop everything (the session these frames belong to is gone)."""
        self._base += len(self)
        self._written.clear()
        self._queued.clear()

    def _held(self) -> list[_Held]:
        return [*self._written, *self._queued]

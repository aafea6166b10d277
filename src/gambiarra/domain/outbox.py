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


class Outbox:
    """An ordered buffer of encoded frames with written and confirmed marks."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self.refused = 0
        self._frames: deque[tuple[int | None, bytes]] = deque()
        self._base = 0  # id of _frames[0]: everything before it is confirmed
        self._written = 0  # id of the next frame to write on the current link

    def __len__(self) -> int:
        return len(self._frames)

    def add(self, frame: bytes, *, round: int | None = None, bounded: bool = True) -> bool:
        """Hold a frame of ``round``; False when a bounded frame finds the outbox full."""
        if bounded and len(self._frames) >= self.limit:
            self.refused += 1
            return False
        self._frames.append((round, frame))
        return True

    def next_unwritten(self) -> bytes | None:
        """The next frame to write on the current link, if any."""
        index = self._written - self._base
        return self._frames[index][1] if index < len(self._frames) else None

    def mark_written(self) -> int:
        """Record that the next frame was written; return the new written mark."""
        self._written += 1
        return self._written

    @property
    def written_mark(self) -> int:
        return self._written

    @property
    def confirmed_mark(self) -> int:
        return self._base

    @property
    def end(self) -> int:
        """The id the next frame added will get."""
        return self._base + len(self._frames)

    def find(self, frame: bytes) -> int | None:
        """The id of this very frame object, if it is still held."""
        for index, (_, held) in enumerate(self._frames):
            if held is frame:
                return self._base + index
        return None

    @property
    def unconfirmed(self) -> int:
        return len(self._frames)

    def confirm(self, mark: int) -> None:
        """Every frame before ``mark`` reached the arena: forget it."""
        while self._base < mark and self._frames:
            self._frames.popleft()
            self._base += 1

    def rewind(self) -> int:
        """A new link: everything unconfirmed must be written again. Returns how many."""
        self._written = self._base
        return len(self._frames)

    def resume(self, round: int, frames: Sequence[bytes]) -> int:
        """A new link, and the arena told us what it holds of ``round``.

        Everything unconfirmed is written again, except that ``round``'s own
        frames are replaced by ``frames``: exactly what the arena lacks.
        Returns how many frames will be written.
        """
        self.rewind()
        others = [held for held in self._frames if held[0] != round]
        self._frames = deque(others)
        self._frames.extend((round, frame) for frame in frames)
        return len(self._frames)

    def rounds(self) -> set[int]:
        """The rounds that still have unconfirmed frames."""
        return {round for round, _ in self._frames if round is not None}

    def drop(self, round: int) -> None:
        """A new link, and the arena has all of ``round``: never write it again."""
        self.rewind()
        self._frames = deque(held for held in self._frames if held[0] != round)

    def clear(self) -> None:
        """Drop everything (the session these frames belong to is gone)."""
        self._base += len(self._frames)
        self._written = self._base
        self._frames.clear()

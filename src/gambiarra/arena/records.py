"""What the practice arena records of each round, as the organiser's screen shows it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anyio

from gambiarra.domain.metrics import RoundMetrics, summarize

__all__ = ["Entry", "RoundRecord"]


@dataclass
class Entry:
    """One participant's answer in one round, as the arena received it."""

    participant_id: str
    tokens: list[str] = field(default_factory=list)
    first_token_at: float | None = None
    token_times: list[float] = field(default_factory=list)
    complete: dict[str, Any] | None = None
    complete_at: float | None = None
    completes: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    dropped: int = 0
    done: anyio.Event = field(default_factory=anyio.Event)

    @property
    def text(self) -> str:
        return "".join(self.tokens)

    def accept(self, seq: int, content: str, at: float) -> bool:
        """Keep the token only if its seq is exactly the next one, like the real server."""
        if seq != len(self.tokens):
            self.dropped += 1
            return False
        if self.first_token_at is None:
            self.first_token_at = at
        self.tokens.append(content)
        self.token_times.append(at)
        return True


@dataclass
class RoundRecord:
    """One round: the challenge as broadcast, and every participant's entry."""

    index: int
    challenge: dict[str, Any]
    broadcast_at: float
    entries: dict[str, Entry] = field(default_factory=dict)

    def entry(self, participant_id: str) -> Entry:
        return self.entries.setdefault(participant_id, Entry(participant_id))

    def measured(self, participant_id: str) -> RoundMetrics:
        """Speed as the arena judges it: from arrival times, not the client's figures."""
        entry = self.entry(participant_id)
        ended = entry.complete_at if entry.complete_at is not None else self.broadcast_at
        return summarize(self.broadcast_at, entry.first_token_at, ended, len(entry.tokens))

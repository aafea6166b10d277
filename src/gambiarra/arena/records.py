"""What the practice arena keeps of each round and participant.

Two kinds of state, as on the real server: the token buffer (``Entry.tokens``
and the first-token time) lives in memory and is lost when the arena process
restarts; rounds, recorded responses and participant profiles live in the
database and survive it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import anyio

from gambiarra.domain.metrics import RoundMetrics, summarize

__all__ = ["Entry", "Profile", "Recorded", "RoundRecord"]


@dataclass
class Profile:
    """A participant as the database knows it (created at the first registration)."""

    id: str
    nickname: str
    runner: str | None
    model: str | None
    created_at_ms: int  # server wall clock
    last_seen_ms: int  # server wall clock: the last register or frame


@dataclass
class Recorded:
    """The database row written when a ``complete`` arrives (a later one overwrites it)."""

    nickname: str
    generated_content: str | None  # None: the arena held no buffer for this round
    token_count: int
    first_token_at: float | None
    completed_at: float


@dataclass
class Entry:
    """One participant's answer in one round, as the arena received it."""

    participant_id: str
    tokens: list[str] = field(default_factory=list)  # in memory: the live buffer
    first_token_at: float | None = None  # in memory
    token_times: list[float] = field(default_factory=list)  # in memory
    buffered: bool = False  # a token message arrived since the process (re)started
    complete: dict[str, Any] | None = None  # the latest complete
    complete_at: float | None = None  # arrival of the latest complete
    completes: int = 0
    recorded: Recorded | None = None  # database: survives a restart
    errors: list[dict[str, Any]] = field(default_factory=list)
    dropped: int = 0
    done: anyio.Event = field(default_factory=anyio.Event)

    @property
    def text(self) -> str:
        return "".join(self.tokens)

    @property
    def next_seq(self) -> int:
        """The only seq the arena accepts next for this participant and round."""
        return len(self.tokens)

    def accept(self, seq: int, content: str, at: float) -> bool:
        """Keep the token only if its seq is exactly the next one, like the real server."""
        self.buffered = True
        if seq != len(self.tokens):
            self.dropped += 1
            return False
        if self.first_token_at is None:
            self.first_token_at = at
        self.tokens.append(content)
        self.token_times.append(at)
        return True

    def record(self, complete: dict[str, Any], nickname: str, at: float) -> None:
        """Write (or overwrite) the response from the buffer as it is now."""
        self.recorded = self.received(complete, nickname, at)

    def received(self, complete: dict[str, Any], nickname: str, at: float) -> Recorded:
        """Count a ``complete`` that arrived; return the row to write, taken from the buffer now.

        The row is not stored: ``record`` stores it at once, a slow database later.
        """
        self.complete, self.complete_at = complete, at
        self.completes += 1
        return Recorded(
            nickname=nickname,
            generated_content=self.text if self.buffered else None,
            token_count=len(self.tokens),
            first_token_at=self.first_token_at,
            completed_at=at,
        )

    def forget(self) -> None:
        """Lose what only lived in memory (the arena process restarted)."""
        self.tokens = []
        self.token_times = []
        self.first_token_at = None
        self.buffered = False


@dataclass
class RoundRecord:
    """One round: the challenge as broadcast, and every participant's entry.

    ``broadcast_at`` is the arena's monotonic time (for measuring speed);
    ``started_at_ms``/``ended_at_ms`` are the server's wall clock, as reported
    over HTTP.
    """

    index: int
    challenge: dict[str, Any]
    broadcast_at: float
    entries: dict[str, Entry] = field(default_factory=dict)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    session_id: str | None = None
    svg_mode: bool = False
    started_at_ms: int = 0
    ended_at_ms: int | None = None
    voting_status: str = "closed"  # voting opens when the organiser stops the round
    revealed_count: int = 0

    @property
    def prompt(self) -> str:
        return str(self.challenge["prompt"])

    @property
    def running(self) -> bool:
        return self.ended_at_ms is None

    def entry(self, participant_id: str) -> Entry:
        return self.entries.setdefault(participant_id, Entry(participant_id))

    def live_tokens(self) -> dict[str, list[str]]:
        """participant id -> tokens held in memory, for those with a buffer."""
        return {pid: list(e.tokens) for pid, e in self.entries.items() if e.buffered}

    def measured(self, participant_id: str) -> RoundMetrics:
        """Speed as the arena judges it: from arrival times, not the client's figures.

        Taken from the recorded response (so from the latest ``complete``) once
        there is one; before that, from the live buffer with no end yet.
        """
        entry = self.entry(participant_id)
        done = entry.recorded
        if done is not None:
            return summarize(
                self.broadcast_at, done.first_token_at, done.completed_at, done.token_count
            )
        return summarize(
            self.broadcast_at, entry.first_token_at, self.broadcast_at, len(entry.tokens)
        )

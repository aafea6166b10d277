"""After every registration: join the round already running, or resume ours exactly.

protocol.md: the arena sends a challenge once, to the participants registered
when the round starts, and keeps each participant's tokens in memory (lost
when the arena restarts). Its HTTP side tells what it holds. This module
turns that, and what we know of our own round, into one decision; the shell
fetches and carries out. Times are the server's (epoch ms): a participant's
clock may be minutes off, so server times are compared only with server times.
"""

from __future__ import annotations

from dataclasses import dataclass

from gambiarra.domain.protocol import Challenge

__all__ = [
    "DEFAULT_DEADLINE_MS",
    "MIN_LEFT_MS",
    "OurRound",
    "PlayRound",
    "ResumeAt",
    "RoundOnArena",
    "after_registration",
]

# The arena's default round deadline (protocol.md).
DEFAULT_DEADLINE_MS = 90_000
# Joining a round with less than this left would only send a stub answer.
MIN_LEFT_MS = 1_000


@dataclass(frozen=True, slots=True)
class RoundOnArena:
    """The round the arena is running (``GET /rounds/current``)."""

    round_id: str
    index: int
    prompt: str
    started_at_ms: int
    session_id: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    deadline_ms: int | None = None
    seed: int | None = None
    svg_mode: bool = False
    # Tokens the arena holds for us in this round: the next seq it accepts.
    held: int = 0


@dataclass(frozen=True, slots=True)
class OurRound:
    """The round this client is playing or last played."""

    index: int
    session_id: str | None


@dataclass(frozen=True, slots=True)
class PlayRound:
    """Play a round we never got the challenge for, with only the time left."""

    challenge: Challenge
    left_ms: int


@dataclass(frozen=True, slots=True)
class ResumeAt:
    """Continue our round from exactly the seq the arena holds."""

    round: int
    seq: int
    round_id: str


def after_registration(
    arena: RoundOnArena | None, server_now_ms: int, ours: OurRound | None
) -> PlayRound | ResumeAt | None:
    """Decide what to do about the running round right after registering.

    Args:
        arena: the arena's running round, or None when none is running.
        server_now_ms: the arena's clock (``GET /health``).
        ours: our round, or None before the first challenge.

    Returns:
        ``ResumeAt`` when the running round is ours; ``PlayRound`` when it is
        one we never got and its deadline has not passed; otherwise None.
    """
    if arena is None:
        return None
    if ours is not None and _same(ours, arena):
        return ResumeAt(arena.index, arena.held, arena.round_id)
    if arena.held > 0:
        return None  # an earlier run of this client played it: its answer is not ours to finish
    deadline = arena.deadline_ms if arena.deadline_ms is not None else DEFAULT_DEADLINE_MS
    left = arena.started_at_ms + deadline - server_now_ms
    if left < MIN_LEFT_MS:
        return None
    challenge = Challenge(
        round=arena.index,
        prompt=arena.prompt,
        session_id=arena.session_id,
        max_tokens=arena.max_tokens,
        temperature=arena.temperature,
        deadline_ms=min(left, deadline),
        seed=arena.seed,
    )
    return PlayRound(challenge, left)


def _same(ours: OurRound, arena: RoundOnArena) -> bool:
    # The TypeScript server names the session in both places; when either side
    # lacks it, the index alone decides (a new session restarts the numbering,
    # and SESSION_ENDED already forgot our round).
    sessions_known = ours.session_id is not None and arena.session_id is not None
    return ours.index == arena.index and (not sessions_known or ours.session_id == arena.session_id)

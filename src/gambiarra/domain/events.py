"""What goes into the round state machine (events) and what comes out (actions).

Every event carries ``at``: a monotonic timestamp in seconds stamped by the
driver. The domain never reads a clock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import msgspec

from gambiarra.domain.metrics import ModelFigures, RoundMetrics
from gambiarra.domain.protocol import Challenge, ClientMessage

__all__ = [
    "Action",
    "CancelGeneration",
    "ChallengeReceived",
    "DeadlinePassed",
    "DeliveryRefused",
    "DrawingStillOpen",
    "Event",
    "GenerationRequest",
    "ModelReported",
    "Outcome",
    "ReasoningProduced",
    "RoundDetailsLearned",
    "RoundEnded",
    "RunnerFailed",
    "RunnerFinished",
    "Send",
    "SessionEnded",
    "ShowReasoning",
    "StartGeneration",
    "TokenProduced",
]


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """What the model is asked for one round, after fallbacks are applied."""

    round: int
    prompt: str
    max_tokens: int
    temperature: float
    seed: int | None = None
    # Monotonic time at which generation must stop, or None for no deadline.
    deadline_at: float | None = None
    # The participant's system prompt; runners without a system message prepend it.
    system: str | None = None


# ---------------------------------------------------------------- events in


@dataclass(frozen=True, slots=True)
class ChallengeReceived:
    challenge: Challenge
    at: float


@dataclass(frozen=True, slots=True)
class TokenProduced:
    round: int
    text: str
    at: float


@dataclass(frozen=True, slots=True)
class ReasoningProduced:
    """A piece of a reasoning model's "thinking": shown, never sent to the arena."""

    round: int
    text: str
    at: float


@dataclass(frozen=True, slots=True)
class RunnerFinished:
    round: int
    at: float


@dataclass(frozen=True, slots=True)
class RunnerFailed:
    round: int
    message: str
    at: float


@dataclass(frozen=True, slots=True)
class DeadlinePassed:
    round: int
    at: float


@dataclass(frozen=True, slots=True)
class DeliveryRefused:
    """The transport could not hold the token frame with this ``seq``.

    Its outbox was full while the link was down: that frame, and so every
    later one of the round (the arena keeps only consecutive seqs), will never
    reach the arena.
    """

    round: int
    seq: int
    at: float


@dataclass(frozen=True, slots=True)
class ModelReported:
    """The model server's own figures for this round's generation (its last line)."""

    round: int
    figures: ModelFigures
    at: float


@dataclass(frozen=True, slots=True)
class RoundDetailsLearned:
    """What the arena's HTTP side says of a round that the challenge does not.

    ``svg_mode``: the prompt asks for an SVG drawing; the answer ends at ``</svg>``.
    Arrives a few ms after the challenge (the shell looks the round up), or never.
    """

    round: int
    svg_mode: bool
    at: float


@dataclass(frozen=True, slots=True)
class SessionEnded:
    """The organiser replaced the session: its rounds (and their numbering) are gone."""

    at: float


Event = (
    ChallengeReceived
    | TokenProduced
    | ReasoningProduced
    | RunnerFinished
    | RunnerFailed
    | DeadlinePassed
    | DeliveryRefused
    | ModelReported
    | RoundDetailsLearned
    | SessionEnded
)


# ---------------------------------------------------------------- actions out


class Send(msgspec.Struct, frozen=True):
    """Send this message to the arena.

    A msgspec Struct, not a dataclass: one is built for every token, and a
    frozen dataclass costs four times as much to build.
    """

    message: ClientMessage


@dataclass(frozen=True, slots=True)
class StartGeneration:
    request: GenerationRequest


@dataclass(frozen=True, slots=True)
class CancelGeneration:
    round: int


class Outcome(enum.Enum):
    """How a round ended.

    FINISHED also covers a round cut at its ``max_tokens`` by the client: a
    well-behaved model server stops there by itself, and the two cannot be
    told apart at the moment of the cut.
    """

    FINISHED = "finished"
    FAILED = "failed"
    DEADLINE = "deadline"
    SUPERSEDED = "superseded"
    # The link was down too long to hold the answer: the round was cut at the
    # last token that can still reach the arena (``DeliveryRefused``).
    UNDELIVERED = "undelivered"


@dataclass(frozen=True, slots=True)
class ShowReasoning:
    """Show the participant a piece of the model's reasoning (it stays local)."""

    round: int
    text: str


@dataclass(frozen=True, slots=True)
class DrawingStillOpen:
    """An SVG round is near the end of its budget and the drawing is not closed.

    ``started``: whether ``<svg`` was seen at all. ``tokens_left``: pieces the
    budget still allows.
    """

    round: int
    tokens_left: int
    started: bool


@dataclass(frozen=True, slots=True)
class RoundEnded:
    """Tells the shell a round is over, for the participant's summary line.

    ``reasoning`` counts the reasoning pieces, so an empty answer can be
    explained ("the model spent its whole budget thinking"). ``model`` holds
    the model server's own figures when it reported them. ``drawing_closed``:
    an SVG round that was stopped right after its ``</svg>``.
    """

    round: int
    outcome: Outcome
    metrics: RoundMetrics
    error: str | None = None
    reasoning: int = 0
    model: ModelFigures | None = None
    drawing_closed: bool = False


Action = Send | StartGeneration | CancelGeneration | ShowReasoning | DrawingStillOpen | RoundEnded

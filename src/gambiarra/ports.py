"""The ports: what the core needs from the outside world, as Protocols.

Adapters satisfy these structurally (no inheritance); mypy checks the fit.
Streaming members are plain ``def`` returning ``AsyncGenerator`` so that an
async-generator implementation matches under ``mypy --strict``, and so the
caller can ``aclose()`` them (closing a runner's stream closes its HTTP
response, which tells the model server to stop computing).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeAlias

from gambiarra.domain.events import GenerationRequest, RoundEnded
from gambiarra.domain.protocol import Challenge, ClientMessage, ServerMessage
from gambiarra.domain.world.agent import AgentSummary, PulseReport

__all__ = [
    "AnswerRecorded",
    "ArenaTransport",
    "Incoming",
    "LateChallenge",
    "LinkDown",
    "LinkUp",
    "ModelDescription",
    "ModelRunner",
    "Retrying",
    "RoundView",
    "SessionReplaced",
    "TokenChunk",
]


@dataclass(frozen=True, slots=True)
class TokenChunk:
    """One piece of text the model produced, exactly as it produced it.

    ``reasoning`` marks a reasoning model's "thinking", which is shown to the
    participant and never sent to the arena.
    """

    text: str
    reasoning: bool = False


@dataclass(frozen=True, slots=True)
class ModelDescription:
    """One model installed on a model server."""

    name: str
    size_bytes: int | None = None
    family: str | None = None


# ---------------------------------------------------------------- link changes
# What the transport tells the client besides the arena's own messages.


@dataclass(frozen=True, slots=True)
class LinkUp:
    """Registered (again). ``resent`` held messages are being written again."""

    session_id: str | None
    resent: int
    first: bool


@dataclass(frozen=True, slots=True)
class LinkDown:
    """A registered link was lost; generation goes on and messages are held."""

    reason: str


@dataclass(frozen=True, slots=True)
class Retrying:
    """The next connection attempt comes after ``delay`` seconds."""

    delay: float
    attempt: int
    reason: str


@dataclass(frozen=True, slots=True)
class SessionReplaced:
    """The organiser opened a new session; the old rounds and PIN are gone."""


@dataclass(frozen=True, slots=True)
class LateChallenge:
    """A round that was already running when we registered: play it in the time left.

    ``challenge.deadline_ms`` is already the time left, in the arena's clock.
    """

    challenge: Challenge
    left_ms: int


@dataclass(frozen=True, slots=True)
class AnswerRecorded:
    """The arena's record of our answer, checked after its ``complete`` arrived.

    ``exact``: the recorded text is byte for byte what the client sent.
    """

    round: int
    chars: int
    exact: bool


Incoming: TypeAlias = (
    ServerMessage | LinkUp | LinkDown | Retrying | SessionReplaced | LateChallenge | AnswerRecorded
)


class ArenaTransport(Protocol):
    """The link to the arena: connects, registers, reconnects, delivers in order."""

    def send(self, message: ClientMessage) -> bool:
        """Queue a message. It never blocks: round messages are held and delivered
        in order, across reconnects, until the arena is known to have them.
        False when a token could not be held (the link is down and the outbox full)."""
        ...

    async def run(self, receive: Callable[[Incoming], Awaitable[None]]) -> None:
        """Connect and register, then hand every arena message and link change
        to ``receive``, reconnecting whenever the link is lost.

        Raises:
            ArenaRejected: the arena refused the registration.
            ArenaUnreachable: no arena, or the reconnection budget is spent.
        """
        ...

    async def flush(self) -> None:
        """Wait until the arena has every message sent so far."""
        ...

    async def world_running(self) -> bool | None:
        """Whether the arena's 2-D world runs now; None when the arena does not say."""
        ...


class ModelRunner(Protocol):
    """A local model server (or the mock) that streams text for a prompt."""

    @property
    def kind(self) -> str:
        """The runner name sent to the arena (``ollama``, ``lmstudio``, ``mock``...)."""
        ...

    @property
    def model(self) -> str:
        """The model name sent to the arena."""
        ...

    async def check(self) -> None:
        """Raise ``RunnerUnavailable`` unless the server is up and has the model."""
        ...

    async def models(self) -> list[ModelDescription]:
        """The models installed on the server; raises ``RunnerUnavailable``."""
        ...

    def stream(self, request: GenerationRequest) -> AsyncGenerator[TokenChunk, None]:
        """Yield the model's text as it is produced; raises ``RunnerError``."""
        ...


class RoundView(Protocol):
    """What the participant sees of the rounds.

    A view with a ``tick_interval`` gets ``tick()`` that often (redraws,
    batching); None means it needs no ticks.
    """

    @property
    def tick_interval(self) -> float | None: ...

    def tick(self) -> None: ...

    def round_started(self, request: GenerationRequest) -> None: ...

    def token(self, text: str) -> None: ...

    def reasoning(self, text: str) -> None: ...

    def round_ended(self, ended: RoundEnded) -> None: ...

    def status(self, event: str, text: str) -> None:
        """A one-line state change; ``event`` names it (registered, link_lost...)."""
        ...

    def pulse(self, report: PulseReport) -> None:
        """World mode: one radar pulse answered."""
        ...

    def world_summary(self, summary: AgentSummary) -> None:
        """World mode: the final tally, when the world stops or the client quits."""
        ...

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
from gambiarra.domain.protocol import ClientMessage, ServerMessage
from gambiarra.domain.world.agent import AgentSummary, PulseReport

__all__ = [
    "ArenaTransport",
    "Incoming",
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


Incoming: TypeAlias = ServerMessage | LinkUp | LinkDown | Retrying | SessionReplaced


class ArenaTransport(Protocol):
    """The link to the arena: connects, registers, reconnects, delivers in order."""

    def send(self, message: ClientMessage) -> None:
        """Queue a message. It never blocks: round messages are held and delivered
        in order, across reconnects, until the arena is known to have them."""
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
    batching); None means it needs no ticks. ``run()`` is started beside the
    client, in its task group, for views that draw in a task of their own
    (views that draw inline return at once); ``close()`` is called on every
    way out, after ``run()`` has ended or when it never started.
    """

    @property
    def tick_interval(self) -> float | None: ...

    async def run(self) -> None:
        """Draw what was queued until cancelled; never raises otherwise."""
        ...

    def close(self) -> None:
        """Draw what is still queued and give the terminal back as it was.

        Idempotent; called on every exit path (end, Ctrl-C, SIGTERM, errors).
        """
        ...

    def tick(self) -> None: ...

    def round_started(self, request: GenerationRequest) -> None: ...

    def token(self, text: str, count: int = 1) -> None:
        """Answer text; ``count`` model tokens (more than one once a slow
        screen's buffer merged them)."""
        ...

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

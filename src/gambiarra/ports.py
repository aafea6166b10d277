"""The ports: what the core needs from the outside world, as Protocols.

Adapters satisfy these structurally (no inheritance); mypy checks the fit.
Streaming members are plain ``def`` returning ``AsyncGenerator`` so that an
async-generator implementation matches under ``mypy --strict``, and so the
caller can ``aclose()`` them (closing a runner's stream closes its HTTP
response, which tells the model server to stop computing).
"""

from __future__ import annotations

import enum
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeAlias, runtime_checkable

import msgspec

from gambiarra.domain.events import GenerationRequest
from gambiarra.domain.metrics import ModelFigures
from gambiarra.domain.protocol import Challenge, ClientMessage, ServerMessage

if TYPE_CHECKING:  # the events module builds on HandBack, defined here
    from gambiarra.events import SessionEvent

__all__ = [
    "AnswerRecorded",
    "ArenaTransport",
    "HandBack",
    "Incoming",
    "LateChallenge",
    "LinkDown",
    "LinkUp",
    "ModelDescription",
    "ModelFacts",
    "ModelHost",
    "ModelRunner",
    "Retrying",
    "RoundDetails",
    "RoundView",
    "RunnerFunction",
    "RunnerRequest",
    "SessionReplaced",
    "TokenChunk",
    "Warmed",
]


class TokenChunk(msgspec.Struct, frozen=True):
    """One piece of text the model produced, exactly as it produced it.

    ``reasoning`` marks a reasoning model's "thinking", which is shown to the
    participant and never sent to the arena. ``figures``: the model server's
    own account of the generation, on a last chunk with no text (consumers
    that skip empty text need not know about it).

    A msgspec Struct, not a dataclass: one is built for every token, and a
    frozen dataclass costs six times as much to build.
    """

    text: str
    reasoning: bool = False
    figures: ModelFigures | None = None


@dataclass(frozen=True, slots=True)
class RunnerRequest:
    """What a runner function is asked for one round (or one world decision).

    The challenge's own values, after the participant's fallbacks: ``prompt``
    (with ``--prompt-template`` applied), ``max_tokens`` (negative: no limit),
    ``temperature`` (0 is a real value) and ``seed`` (None: the arena gave
    none). ``system``: the participant's ``--system``. ``model``: ``--model``.
    ``deadline_at``: when the client stops the generation, on the
    ``time.monotonic()`` clock (None: no deadline); ``seconds_left()`` reads it.

    The client enforces the limits itself: the generator is closed after the
    ``max_tokens``-th piece, at the deadline, and when a new challenge
    supersedes the round, so a runner need not count or watch the clock.
    """

    round: int
    prompt: str
    max_tokens: int
    temperature: float
    model: str
    seed: int | None = None
    system: str | None = None
    deadline_at: float | None = None

    def seconds_left(self) -> float | None:
        """Seconds until the deadline (never negative); None without a deadline."""
        if self.deadline_at is None:
            return None
        return max(0.0, self.deadline_at - time.monotonic())


RunnerFunction: TypeAlias = Callable[[RunnerRequest], AsyncIterator[str | TokenChunk]]
"""A runner plugin: ``async def runner(request) -> AsyncIterator[str | TokenChunk]``.

Yield the answer's pieces as the model produces them: plain ``str`` for
answer text, a ``TokenChunk`` for reasoning (``reasoning=True``) or the model
server's own figures. Raise to fail the round; the session goes on.
"""


@dataclass(frozen=True, slots=True)
class ModelDescription:
    """One model installed on a model server."""

    name: str
    size_bytes: int | None = None
    family: str | None = None


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """What the model server says about the chosen model (None: it does not say).

    ``capabilities``: Ollama's list (``completion``, ``thinking``,
    ``embedding``...), empty when unknown. ``gpu_share``: the fraction of the
    loaded model in GPU memory (Ollama ``/api/ps``).
    """

    family: str | None = None
    parameter_size: str | None = None
    quantization: str | None = None
    capabilities: tuple[str, ...] = ()
    gpu_share: float | None = None


@dataclass(frozen=True, slots=True)
class Warmed:
    """The model is loaded. ``seconds``: how long that took, measured by the client.

    ``was_loaded``: it was resident before warming (None: the server does not
    say). A model already resident answers at once, so ``seconds`` is then not
    a load time.
    """

    seconds: float
    was_loaded: bool | None


class HandBack(enum.Enum):
    """What ``release`` did with the model at the end of the session."""

    UNTOUCHED = "untouched"  # nothing was changed: warming was off or not needed
    UNLOADED = "unloaded"  # it was not resident before the session: unloaded
    SERVER_DEFAULT = "server_default"  # it was resident before: the server's own expiry again
    KEPT_PINNED = "kept_pinned"  # the participant had it pinned for ever: left so
    AS_ASKED = "as_asked"  # --keep-alive: it stays that long after the last round


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


@dataclass(frozen=True, slots=True)
class RoundDetails:
    """What the arena's HTTP side says of a round the challenge does not (protocol.md).

    ``svg_mode``: the prompt asks for an SVG drawing.
    """

    round: int
    svg_mode: bool


Incoming: TypeAlias = (
    ServerMessage
    | LinkUp
    | LinkDown
    | Retrying
    | SessionReplaced
    | LateChallenge
    | AnswerRecorded
    | RoundDetails
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
        """Yield the model's text as it is produced; raises ``RunnerError``.

        A last chunk may carry the server's own ``figures`` (and no text).
        """
        ...


@runtime_checkable
class ModelHost(Protocol):
    """The model-server side of a runner that loads models (not the mock).

    The arena counts the time to the first token from the challenge: a model
    the server unloaded while idle charges its load time to the participant.
    ``warm`` loads it before the first challenge, ``keep`` keeps it resident
    between rounds, ``release`` leaves the server as the participant had it.
    """

    async def warm(self) -> Warmed:
        """Load the model now (it stays as the runner's keep-alive says).

        Raises:
            RunnerError: the server cannot load it.
        """
        ...

    async def keep(self) -> None:
        """Keep the model loaded until cancelled, never while a round generates.

        Returns at once when the server keeps it by itself (or the
        generation requests do, like Ollama's ``keep_alive``).
        """
        ...

    async def release(self) -> HandBack:
        """At exit: undo what ``warm`` and the keep-alive changed, as far as known."""
        ...

    async def describe(self) -> ModelFacts:
        """What the server says about the model; never raises (unknown stays None)."""
        ...


class RoundView(Protocol):
    """What the participant sees of a session: typed events in, drawing out.

    ``token`` and ``reasoning`` are the hot path (answer text as it is sent,
    no event object per piece); everything else arrives as a ``SessionEvent``
    through ``show``. A view with a ``tick_interval`` gets ``tick()`` that
    often (redraws, batching); None means it needs no ticks. ``run()`` is
    started beside the client, in its task group, for views that draw in a
    task of their own (views that draw inline return at once); ``close()`` is
    called on every way out, after ``run()`` has ended or when it never started.
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

    def token(self, text: str, count: int = 1) -> None:
        """Answer text; ``count`` model tokens (more than one once a slow
        screen's buffer merged them)."""
        ...

    def reasoning(self, text: str) -> None: ...

    def show(self, event: SessionEvent) -> None:
        """Anything else that happened: a state change, a round's start or end..."""
        ...

"""The ports: what the core needs from the outside world, as Protocols.

Adapters satisfy these structurally (no inheritance); mypy checks the fit.
Streaming members are plain ``def`` returning ``AsyncGenerator`` so that an
async-generator implementation matches under ``mypy --strict``, and so the
caller can ``aclose()`` them (closing a runner's stream closes its HTTP
response, which tells the model server to stop computing).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol

from gambiarra.domain.events import GenerationRequest, RoundEnded
from gambiarra.domain.protocol import ClientMessage, ServerMessage

__all__ = ["ArenaTransport", "ModelDescription", "ModelRunner", "RoundView", "TokenChunk"]


@dataclass(frozen=True, slots=True)
class TokenChunk:
    """One piece of text the model produced, exactly as it produced it."""

    text: str


@dataclass(frozen=True, slots=True)
class ModelDescription:
    """One model installed on a model server."""

    name: str
    size_bytes: int | None = None
    family: str | None = None


class ArenaTransport(Protocol):
    """The link to the arena: registers on connect, then carries messages."""

    async def send(self, message: ClientMessage) -> None:
        """Send one message now; raises ``ConnectionLost`` if the link is down."""
        ...

    def messages(self) -> AsyncGenerator[ServerMessage, None]:
        """Connect, register, and yield every message the arena sends."""
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
    """What the participant sees of the rounds."""

    def round_started(self, request: GenerationRequest) -> None: ...

    def token(self, text: str) -> None: ...

    def round_ended(self, ended: RoundEnded) -> None: ...

    def status(self, text: str) -> None:
        """A one-line state change (connected, registered, ...)."""
        ...

"""Exceptions raised by gambiarra, and the exit codes they map to.

    GambiarraError
     ├── ProtocolError          the arena sent a frame we cannot use
     ├── RoundStateError        an event arrived that the round cannot accept (our bug)
     ├── Interrupted            Ctrl-C or SIGTERM                       -> exit 130 / 143
     ├── ConfigError            bad options, environment or config file       -> exit 2
     ├── ArenaRejected          the arena refused us (wrong PIN, ...)          -> exit 3
     ├── TransportError
     │    └── ArenaUnreachable  no arena answered (or --max-reconnects ran out) -> exit 5
     └── RunnerError
          ├── RunnerUnavailable the model server or the model is missing       -> exit 4
          └── RunnerFailed      the model server failed during a generation

Adapters translate library exceptions (httpx, websockets, msgspec) into these
at their boundary; nothing above the adapters sees a library exception.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Process exit codes, documented in the README."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    REJECTED = 3
    MODEL_UNAVAILABLE = 4
    ARENA_UNREACHABLE = 5
    INTERRUPTED = 130
    TERMINATED = 143


class GambiarraError(Exception):
    """Base of every error this package raises on purpose."""

    exit_code: ExitCode = ExitCode.INTERNAL


class ProtocolError(GambiarraError):
    """The arena sent a frame that is not a message we understand."""


class RoundStateError(GambiarraError):
    """The round received an event it cannot accept in its phase: a bug."""


class Interrupted(GambiarraError):
    """The user (SIGINT) or the system (SIGTERM) asked the client to stop."""

    def __init__(self, terminated: bool = False) -> None:
        super().__init__("encerrado (SIGTERM)." if terminated else "interrompido.")
        self.exit_code = ExitCode.TERMINATED if terminated else ExitCode.INTERRUPTED


class ConfigError(GambiarraError):
    """Options, environment variables or the config file are wrong."""

    exit_code = ExitCode.USAGE


class ArenaRejected(GambiarraError):
    """The arena refused the participant (for example a wrong PIN)."""

    exit_code = ExitCode.REJECTED


class TransportError(GambiarraError):
    """Something went wrong on the link to the arena."""

    exit_code = ExitCode.ARENA_UNREACHABLE


class ArenaUnreachable(TransportError):
    """No arena could be reached at the configured URL."""


class RunnerError(GambiarraError):
    """Something went wrong talking to the local model server."""

    exit_code = ExitCode.MODEL_UNAVAILABLE


class RunnerUnavailable(RunnerError):
    """The model server is unreachable, or the model is not installed."""


class RunnerFailed(RunnerError):
    """The model server failed while generating; carries its own message."""


def unwrap(exc: BaseException) -> BaseException:
    """The first ``GambiarraError`` inside (nested) exception groups, else ``exc``.

    anyio task groups wrap whatever a task raised in an exception group; the
    user needs the one error that says what went wrong.
    """
    inner = getattr(exc, "exceptions", None)
    while inner:
        found = next((e for e in inner if isinstance(e, GambiarraError)), inner[0])
        exc, inner = found, getattr(found, "exceptions", None)
    return exc

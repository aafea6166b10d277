"""gambiarra-client: put your local LLM into a Gambiarra LLM Club arena."""

from gambiarra.errors import (
    ArenaRejected,
    ArenaUnreachable,
    ConfigError,
    ExitCode,
    GambiarraError,
    Interrupted,
    ProtocolError,
    RoundStateError,
    RunnerError,
    RunnerFailed,
    RunnerUnavailable,
    TransportError,
)

__version__ = "0.1.0"

__all__ = [
    "ArenaRejected",
    "ArenaUnreachable",
    "ConfigError",
    "ExitCode",
    "GambiarraError",
    "Interrupted",
    "ProtocolError",
    "RoundStateError",
    "RunnerError",
    "RunnerFailed",
    "RunnerUnavailable",
    "TransportError",
    "__version__",
]

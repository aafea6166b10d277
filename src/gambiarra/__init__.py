"""gambiarra-client: put your local LLM into a Gambiarra LLM Club arena.

The public API, from ``gambiarra`` alone (``__all__`` is the contract; the
CHANGELOG lists every name that enters or leaves it):

- settings: ``make_settings`` checks options exactly as the command line does,
  from the table ``OPTIONS`` (which ``COMMANDS`` takes which);
- a session: ``play`` joins the arena, ``practice`` rehearses against a local
  practice arena, with any runner: a built-in, a plugin, or your own function;
- what happens, as typed events (``SessionEvent``): to a ``listener``, or
  iterated from a ``Session``;
- runners: a ``RunnerFunction`` gets a ``RunnerRequest`` and yields ``str`` or
  ``TokenChunk``; ``available_runners`` lists the built-in and installed ones.

Importing ``gambiarra`` stays light (the command line's ``--help`` does it):
the settings and errors load at once, the rest on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gambiarra.commands import COMMANDS, make_settings
from gambiarra.config import OPTIONS, Option, Settings
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

if TYPE_CHECKING:
    from gambiarra.adapters.feed import Listener
    from gambiarra.adapters.plugins import RunnerInfo, available_runners
    from gambiarra.domain.events import Outcome
    from gambiarra.domain.metrics import ModelFigures
    from gambiarra.events import (
        AnswerRecorded,
        ArenaWarned,
        CheckingModel,
        Connected,
        Connecting,
        Disconnected,
        DrawingOpen,
        DrawingRound,
        LateJoin,
        LoadingModel,
        ModelLoaded,
        ModelReleased,
        Pulse,
        Reasoning,
        Retrying,
        RoundEnded,
        RoundStarted,
        SessionEnded,
        SessionEvent,
        SessionReplaced,
        Skipped,
        TemplateWarning,
        Tokens,
        ViewEvent,
        WebViewFailed,
        WebViewStarted,
        WorldStopped,
        WorldSummary,
    )
    from gambiarra.ports import HandBack, RunnerFunction, RunnerRequest, TokenChunk
    from gambiarra.session import Screen, Session, play, practice

__version__ = "0.1.0"
"""The package version (the installed distribution's, ``gambiarra-client``)."""

# Loaded on first use: these pull in msgspec, anyio and the network libraries.
_LAZY = {
    "gambiarra.adapters.feed": ("Listener",),
    "gambiarra.adapters.plugins": ("RunnerInfo", "available_runners"),
    "gambiarra.domain.events": ("Outcome",),
    "gambiarra.domain.metrics": ("ModelFigures",),
    "gambiarra.events": (
        "AnswerRecorded", "ArenaWarned", "CheckingModel", "Connected", "Connecting",
        "Disconnected", "DrawingOpen", "DrawingRound", "LateJoin", "LoadingModel", "ModelLoaded",
        "ModelReleased", "Pulse", "Reasoning", "Retrying", "RoundEnded", "RoundStarted",
        "SessionEnded", "SessionEvent", "SessionReplaced", "Skipped", "TemplateWarning", "Tokens",
        "ViewEvent", "WebViewFailed", "WebViewStarted", "WorldStopped", "WorldSummary",
    ),
    "gambiarra.ports": ("HandBack", "RunnerFunction", "RunnerRequest", "TokenChunk"),
    "gambiarra.session": ("Screen", "Session", "play", "practice"),
}  # fmt: skip
_HOME = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'gambiarra' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})


__all__ = [  # noqa: RUF022 - plain sorted(), as tests/unit/test_exports.py checks
    "AnswerRecorded",
    "ArenaRejected",
    "ArenaUnreachable",
    "ArenaWarned",
    "COMMANDS",
    "CheckingModel",
    "ConfigError",
    "Connected",
    "Connecting",
    "Disconnected",
    "DrawingOpen",
    "DrawingRound",
    "ExitCode",
    "GambiarraError",
    "HandBack",
    "Interrupted",
    "LateJoin",
    "Listener",
    "LoadingModel",
    "ModelFigures",
    "ModelLoaded",
    "ModelReleased",
    "OPTIONS",
    "Option",
    "Outcome",
    "ProtocolError",
    "Pulse",
    "Reasoning",
    "Retrying",
    "RoundEnded",
    "RoundStarted",
    "RoundStateError",
    "RunnerError",
    "RunnerFailed",
    "RunnerFunction",
    "RunnerInfo",
    "RunnerRequest",
    "RunnerUnavailable",
    "Screen",
    "Session",
    "SessionEnded",
    "SessionEvent",
    "SessionReplaced",
    "Settings",
    "Skipped",
    "TemplateWarning",
    "TokenChunk",
    "Tokens",
    "TransportError",
    "ViewEvent",
    "WebViewFailed",
    "WebViewStarted",
    "WorldStopped",
    "WorldSummary",
    "__version__",
    "available_runners",
    "make_settings",
    "play",
    "practice",
]
